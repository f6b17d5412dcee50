package drain

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
)

// fakeStep records what happened to it in a shared log.
type fakeStep struct {
	name string
	fail bool
	log  *[]string
}

func (f *fakeStep) Name() string     { return f.name }
func (f *fakeStep) Describe() string { return "do " + f.name }
func (f *fakeStep) Do(context.Context, io.Writer) error {
	*f.log = append(*f.log, "do "+f.name)
	if f.fail {
		return errors.New(f.name + " broke")
	}
	return nil
}
func (f *fakeStep) Undo(context.Context, io.Writer) error {
	*f.log = append(*f.log, "undo "+f.name)
	return nil
}

type fakePre struct {
	name string
	ok   bool
}

func (p fakePre) Name() string { return p.name }
func (p fakePre) Run(context.Context, io.Writer) check.Result {
	return check.Result{OK: p.ok, Detail: p.name + " says so"}
}

func upStore(t *testing.T) state.Store {
	st := state.Store{Dir: t.TempDir()}
	if _, _, err := st.Set(state.Change{To: state.Up}); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestStepsRunInOrderThenFlip(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{Steps: []Step{&fakeStep{name: "fence", log: &log}, &fakeStep{name: "catchup", log: &log}}, PreconditionTimeout: time.Second}
	res, err := Run(context.Background(), st, plan, Options{Reason: "r"}, io.Discard)
	if err != nil || res.Outcome != Drained {
		t.Fatalf("%+v %v", res, err)
	}
	if strings.Join(log, ",") != "do fence,do catchup" {
		t.Fatalf("log %v", log)
	}
	if s, _ := st.Load(); s.State != state.Drained {
		t.Fatalf("state %+v", s)
	}
	rec, ok, err := LoadRecord(st)
	if !ok || err != nil || rec.Outcome != "drained" || len(rec.Phases) != 4 { // preconditions, fence, catchup, flip
		t.Fatalf("record %+v ok=%v err=%v", rec, ok, err)
	}
}

func TestFailedStepUndoesInReverseAndKeepsState(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{Steps: []Step{
		&fakeStep{name: "a", log: &log}, &fakeStep{name: "b", log: &log}, &fakeStep{name: "c", fail: true, log: &log}, &fakeStep{name: "d", log: &log},
	}}
	res, err := Run(context.Background(), st, plan, Options{}, io.Discard)
	if !errors.Is(err, ErrRefused) || res.Outcome != Refused || len(res.Failures) != 1 || res.Failures[0].Name != "c" {
		t.Fatalf("%+v %v", res, err)
	}
	if got := strings.Join(log, ","); got != "do a,do b,do c,undo b,undo a" {
		t.Fatalf("log %s", got)
	}
	if s, _ := st.Load(); s.State != state.Up || s.Generation != 1 {
		t.Fatalf("refused drain changed state: %+v", s)
	}
	if rec, ok, _ := LoadRecord(st); !ok || rec.Outcome != "refused" {
		t.Fatalf("refusal not recorded: %+v", rec)
	}
}

func TestKeepStepsSkipsUndo(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{KeepSteps: true, Steps: []Step{&fakeStep{name: "a", log: &log}, &fakeStep{name: "b", fail: true, log: &log}}}
	res, err := Run(context.Background(), st, plan, Options{}, io.Discard)
	if !errors.Is(err, ErrRefused) || res.Outcome != Refused {
		t.Fatalf("%+v %v", res, err)
	}
	if got := strings.Join(log, ","); got != "do a,do b" {
		t.Fatalf("log %s", got)
	}
}

func TestPreconditionFailureRunsNoStep(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{
		Preconditions:       []check.Precondition{fakePre{"one", false}, fakePre{"two", true}, fakePre{"three", false}},
		PreconditionTimeout: time.Second,
		Steps:               []Step{&fakeStep{name: "fence", log: &log}},
	}
	var out bytes.Buffer
	res, err := Run(context.Background(), st, plan, Options{}, &out)
	if !errors.Is(err, ErrRefused) || len(res.Failures) != 2 || len(log) != 0 {
		t.Fatalf("%+v %v log=%v", res, err, log)
	}
}

func TestDryRunAndForce(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{Preconditions: []check.Precondition{fakePre{"p", true}}, PreconditionTimeout: time.Second,
		Steps: []Step{&fakeStep{name: "fence", log: &log}}}
	var out bytes.Buffer
	res, err := Run(context.Background(), st, plan, Options{DryRun: true}, &out)
	if err != nil || res.Outcome != DryRunPassed || len(log) != 0 || !strings.Contains(out.String(), "would do fence") {
		t.Fatalf("dry run: %+v %v %v %q", res, err, log, out.String())
	}
	plan.Preconditions = []check.Precondition{fakePre{"p", false}}
	res, err = Run(context.Background(), st, plan, Options{Force: true}, io.Discard)
	if err != nil || res.Outcome != Drained || len(log) != 0 {
		t.Fatalf("force: %+v %v %v", res, err, log)
	}
	if s, _ := st.Load(); !s.Forced {
		t.Fatal("force not recorded in the state")
	}
	res, err = Run(context.Background(), st, plan, Options{}, io.Discard)
	if err != nil || res.Outcome != AlreadyDrained {
		t.Fatalf("second drain: %+v %v", res, err)
	}
}

func TestBusyLockRefuses(t *testing.T) {
	st := upStore(t)
	release, err := st.OpLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Run(ctx, st, Plan{}, Options{}, io.Discard); !errors.Is(err, state.ErrBusy) {
		t.Fatalf("want ErrBusy, got %v", err)
	}
}

// cancelStep cancels the drain's context while it runs, as SIGTERM would.
type cancelStep struct {
	fakeStep
	cancel context.CancelFunc
}

func (c *cancelStep) Do(ctx context.Context, w io.Writer) error {
	c.cancel()
	return c.fakeStep.Do(ctx, w)
}

func TestInterruptedAfterStepsDoesNotFlip(t *testing.T) {
	st := upStore(t)
	var log []string
	ctx, cancel := context.WithCancel(context.Background())
	plan := Plan{Steps: []Step{&fakeStep{name: "fence", log: &log}, &cancelStep{fakeStep{name: "catchup", log: &log}, cancel}}}
	res, err := Run(ctx, st, plan, Options{}, io.Discard)
	if !errors.Is(err, ErrRefused) || res.Outcome != Refused {
		t.Fatalf("%+v %v", res, err)
	}
	if got := strings.Join(log, ","); got != "do fence,do catchup,undo catchup,undo fence" {
		t.Fatalf("log %s", got)
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatal("interrupted drain flipped the state")
	}
}

// The CLI and the admin API word a drain's end the same way.
func TestSummarize(t *testing.T) {
	refused := Result{Outcome: Refused, Failures: []check.Result{{Name: "peer-ready", Detail: "peer down"}}}
	for _, tt := range []struct {
		res    Result
		err    error
		word   string
		failed bool
		want   string
	}{
		{Result{Outcome: Drained, State: state.State{Generation: 4}}, nil, "drained", false, "drained (generation 4)"},
		{Result{Outcome: AlreadyDrained}, nil, "already_drained", false, "nothing to do"},
		{Result{Outcome: DryRunPassed}, nil, "dry_run_passed", false, "every precondition passed"},
		{refused, ErrRefused, "refused", true, "  - peer-ready: peer down\nFix these, or run `hacheck drain --force`"},
		{Result{Outcome: Refused}, state.ErrBusy, "busy", true, "try again when it has finished"},
		{Result{Outcome: Refused}, errors.New("mark drained: disk full"), "error", true, "drain failed: mark drained: disk full"},
	} {
		s := Summarize(tt.res, tt.err)
		if s.Word != tt.word || s.Failed != tt.failed || !strings.Contains(s.Message, tt.want) {
			t.Errorf("%v %v: %+v; want %s failed=%v %q", tt.res.Outcome, tt.err, s, tt.word, tt.failed, tt.want)
		}
	}
}

// blockingPre waits until release is closed (or its deadline).
type blockingPre struct{ release chan struct{} }

func (blockingPre) Name() string { return "slow" }
func (p blockingPre) Run(ctx context.Context, _ io.Writer) check.Result {
	select {
	case <-p.release:
		return check.Result{OK: true, Detail: "released"}
	case <-ctx.Done():
		return check.Result{Detail: "not released"}
	}
}

// Warm runs beside the preconditions (here: it is what lets the only
// precondition pass) and has returned before the first step.
func TestWarmRunsBesidePreconditionsAndBeforeSteps(t *testing.T) {
	st := upStore(t)
	var log []string
	release := make(chan struct{})
	plan := Plan{
		Preconditions:       []check.Precondition{blockingPre{release}},
		PreconditionTimeout: 5 * time.Second,
		Warm: []func(context.Context){func(context.Context) {
			close(release)
			time.Sleep(20 * time.Millisecond) // still warming when the precondition returns
			log = append(log, "warm")
		}},
		Steps: []Step{&fakeStep{name: "fence", log: &log}},
	}
	res, err := Run(context.Background(), st, plan, Options{}, io.Discard)
	if err != nil || res.Outcome != Drained {
		t.Fatalf("%+v %v", res, err)
	}
	if got := strings.Join(log, ","); got != "warm,do fence" {
		t.Fatalf("log %q, want warm before the first step", got)
	}
}
