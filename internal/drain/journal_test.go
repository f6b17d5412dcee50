package drain

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/state"
)

func TestDecide(t *testing.T) {
	fenced := &FenceIntent{Server: "a", Dialect: "mariadb"}
	up := state.State{Version: 1, State: state.Up, Generation: 4}
	drained := state.State{Version: 1, State: state.Drained, Generation: 5}
	plan := []string{"fence", "catch-up", "answer", "flip"}
	movePlan := []string{"hold", "fence", "catch-up", "answer", "flip"}
	cases := []struct {
		name    string
		j       Journal
		alive   bool
		cur     state.State
		curErr  error
		action  Action
		unfence bool
		why     string
	}{
		{"owner alive: a drain is running", Journal{Step: "catch-up", Fence: fenced}, true, up, nil, InProgress, false, "a drain is running"},
		{"owner alive even with the state drained", Journal{Step: "flip", Fence: fenced}, true, drained, nil, InProgress, false, "running"},
		{"killed before the fence", Journal{Step: "fence"}, false, up, nil, RollBack, false, "nothing to undo"},
		{"killed during the fence", Journal{Step: "fence", Fence: fenced}, false, up, nil, RollBack, true, "fence is undone"},
		{"killed during the catch-up", Journal{Step: "catch-up", Fence: fenced, Frozen: "0-1-9"}, false, up, nil, RollBack, true, "VIP never moved"},
		// The intent is saved while the preconditions run; the fence is sent only in its step.
		{"killed in the preconditions, intent saved", Journal{Plan: plan, Step: StepPreconditions, Fence: fenced}, false, up, nil, RollBack, false, "nothing to undo"},
		{"killed in the hold step of a move, intent saved", Journal{Plan: movePlan, Step: "hold", Fence: fenced}, false, up, nil, RollBack, false, "nothing to undo"},
		{"killed in the fence step of a move", Journal{Plan: movePlan, Step: "fence", Fence: fenced}, false, up, nil, RollBack, true, "fence is undone"},
		{"killed in the catch-up, with the plan", Journal{Plan: plan, Step: "catch-up", Fence: fenced}, false, up, nil, RollBack, true, "fence is undone"},
		{"killed at the flip, before the rename", Journal{Step: "flip", Fence: fenced}, false, up, nil, RollBack, true, "before the flip"},
		{"killed just after the flip", Journal{Step: "flip", Fence: fenced}, false, drained, nil, Complete, false, "flip had happened"},
		{"state unusable", Journal{Step: "catch-up", Fence: fenced}, false, state.State{}, state.ErrCorrupt, LeaveFenced, false, "unknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.j, c.alive, c.cur, c.curErr)
			if d.Action != c.action || d.Unfence != c.unfence || !strings.Contains(d.Why, c.why) {
				t.Fatalf("Decide = %+v (%s); want %s unfence=%v, why containing %q", d, d.Action, c.action, c.unfence, c.why)
			}
		})
	}
}

// deadOwner is an Owner whose process has exited.
func deadOwner(t *testing.T) Owner {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	o := Self()
	o.PID = cmd.Process.Pid
	return o
}

func writeJournal(t *testing.T, st state.Store, j Journal) {
	t.Helper()
	j.Version = JournalVersion
	if err := state.SaveJSON(journalPath(st), j); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverRollsBackADeadDrainsFence(t *testing.T) {
	st := upStore(t)
	f := NewFenceIntent("a:3306", db.ReadOnlyState{Dialect: db.MySQL, ReadOnly: true})
	writeJournal(t, st, Journal{Op: "drain", Owner: deadOwner(t), Step: "catch-up", Fence: &f, Started: time.Now()})
	var got *FenceIntent
	rec := Recovery{UndoFence: func(_ context.Context, f FenceIntent, out io.Writer) error { got = &f; return nil }}
	var out bytes.Buffer
	rep, err := Recover(context.Background(), st, rec, 0, &out)
	if err != nil || rep.Decision.Action != RollBack || got == nil || got.Prior() != f.Prior() {
		t.Fatalf("Recover = %+v, %v; undo got %+v", rep, err, got)
	}
	if _, err := LoadJournal(st); !errors.Is(err, ErrNoJournal) {
		t.Fatalf("journal left after recovery: %v", err)
	}
	r, ok, err := LoadRecord(st)
	if err != nil || !ok || r.Outcome != "interrupted" || !strings.HasPrefix(r.Recovery, "interrupted drain rolled back") || r.Step != "catch-up" {
		t.Fatalf("record %+v, %v", r, err)
	}
	// Nothing left: a second look does nothing.
	if rep, err := Recover(context.Background(), st, rec, 0, io.Discard); err != nil || rep.Found {
		t.Fatalf("second Recover = %+v, %v", rep, err)
	}
}

func TestRecoverCompletesAfterTheFlipAndKeepsFailures(t *testing.T) {
	st := upStore(t)
	f := NewFenceIntent("a", db.ReadOnlyState{Dialect: db.MariaDB})
	undos := 0
	rec := Recovery{UndoFence: func(context.Context, FenceIntent, io.Writer) error { undos++; return errors.New("server down") }}

	// Before the flip, an undo that fails leaves the journal for the next look.
	writeJournal(t, st, Journal{Owner: deadOwner(t), Step: "catch-up", Fence: &f})
	if _, err := Recover(context.Background(), st, rec, 0, io.Discard); err == nil || !strings.Contains(err.Error(), "server down") {
		t.Fatalf("failed undo: %v", err)
	}
	if _, err := LoadJournal(st); err != nil {
		t.Fatalf("journal removed although its undo failed: %v", err)
	}
	res := (&JournalCheck{Store: st, Recovery: rec}).Check(context.Background())
	if res.OK || !strings.Contains(res.Detail, "hacheck status") {
		t.Fatalf("check with an unrecovered drain: %+v", res)
	}

	// Once the flip has happened, nothing is undone.
	st.Set(state.Change{To: state.Drained})
	undos = 0
	rep, err := Recover(context.Background(), st, rec, 0, io.Discard)
	if err != nil || rep.Decision.Action != Complete || undos != 0 || !strings.HasPrefix(rep.Detail, "interrupted drain completed") {
		t.Fatalf("after the flip: %+v, %v, %d undos", rep, err, undos)
	}
}

func TestRecoverLeavesALiveDrainAlone(t *testing.T) {
	st := upStore(t)
	// A live owner other than this process: a child that sleeps.
	cmd := exec.Command("/bin/sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	o := Owner{PID: cmd.Process.Pid, BootID: Self().BootID}
	o.StartTicks = Look(o).StartTicks
	f := NewFenceIntent("a", db.ReadOnlyState{Dialect: db.MariaDB})
	writeJournal(t, st, Journal{Owner: o, Step: "catch-up", Fence: &f})
	called := false
	rec := Recovery{UndoFence: func(context.Context, FenceIntent, io.Writer) error { called = true; return nil }}
	res := (&JournalCheck{Store: st, Recovery: rec}).Check(context.Background())
	if !res.OK || called || !strings.Contains(res.Detail, "running") {
		t.Fatalf("live drain: %+v, undo called %v", res, called)
	}
	// The owner dies while another hacheck holds the lock: fail closed.
	cmd.Process.Kill()
	cmd.Wait()
	release, err := st.OpLock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res = (&JournalCheck{Store: st, Recovery: rec}).Check(context.Background())
	release()
	if res.OK || called || !strings.Contains(res.Detail, "being recovered") {
		t.Fatalf("dead drain, lock held elsewhere: %+v", res)
	}
	res = (&JournalCheck{Store: st, Recovery: rec}).Check(context.Background())
	if !res.OK || !called || !strings.Contains(res.Detail, "rolled back") {
		t.Fatalf("dead drain, lock free: %+v, undo called %v", res, called)
	}
}

// journalingStep checks, while it runs, that the journal names it.
type journalingStep struct {
	fakeStep
	t  *testing.T
	st state.Store
}

func (s *journalingStep) Do(ctx context.Context, out io.Writer) error {
	j, err := LoadJournal(s.st)
	if err != nil || j.Step != s.name || j.Owner.PID != os.Getpid() || len(j.Plan) != 3 || j.Plan[2] != "flip" {
		s.t.Errorf("journal during step %s: %+v, %v", s.name, j, err)
	}
	return s.fakeStep.Do(ctx, out)
}

func TestRunJournalsEachStepAndRemovesIt(t *testing.T) {
	for _, fail := range []bool{false, true} {
		st := upStore(t)
		var log []string
		a := &journalingStep{fakeStep{name: "fence", log: &log}, t, st}
		b := &journalingStep{fakeStep{name: "catch-up", log: &log, fail: fail}, t, st}
		res, err := Run(context.Background(), st, Plan{Steps: []Step{a, b}}, Options{}, io.Discard)
		if (err != nil) != fail || fail && res.Outcome != Refused {
			t.Fatalf("fail=%v: %+v, %v", fail, res, err)
		}
		if _, err := LoadJournal(st); !errors.Is(err, ErrNoJournal) {
			t.Fatalf("fail=%v: journal left after the drain ended: %v", fail, err)
		}
	}
}

// failingUndo is a step whose undo fails: the journal must stay.
type failingUndo struct{ fakeStep }

func (f *failingUndo) Undo(context.Context, io.Writer) error { return errors.New("cannot") }

func TestRunKeepsTheJournalWhenAnUndoFails(t *testing.T) {
	st := upStore(t)
	var log []string
	plan := Plan{Steps: []Step{&failingUndo{fakeStep{name: "fence", log: &log}}, &fakeStep{name: "catch-up", log: &log, fail: true}}}
	if _, err := Run(context.Background(), st, plan, Options{}, io.Discard); err == nil {
		t.Fatal("drain passed")
	}
	if _, err := LoadJournal(st); err != nil {
		t.Fatalf("journal removed although an undo failed: %v", err)
	}
}

// A drain among several nodes killed before its flip releases its holds
// on recovery; after the flip it leaves them to their lease and says what
// to run on the replicas.
func TestDecideHolds(t *testing.T) {
	j := Journal{Step: "catch-up", Successor: "node-c", Holds: []HoldIntent{{Node: "node-b", For: "node-c", By: "node-a", Until: time.Now().Add(time.Minute)}}}
	d := Decide(j, false, state.State{State: state.Up, Generation: 3}, nil)
	if d.Action != RollBack || !d.Release {
		t.Errorf("before the flip: %+v", d)
	}
	d = Decide(j, false, state.State{State: state.Drained, Generation: 4}, nil)
	if d.Action != Complete || d.Release || !strings.Contains(d.Why, "node-b until") || !strings.Contains(d.Why, "repointed to node-c: run `hacheck follow` on each") {
		t.Errorf("after the flip: %+v", d)
	}
	if d := Decide(Journal{Step: "fence"}, false, state.State{State: state.Up}, nil); d.Release {
		t.Errorf("a pair's drain has no holds to release: %+v", d)
	}
}

// A drain among several nodes killed in its hold step (before the fence):
// recovery releases the holds it had asked for and records it.
func TestRecoverReleasesTheHoldsOfADeadMove(t *testing.T) {
	st := upStore(t)
	holds := []HoldIntent{{Node: "node-b", For: "node-c", By: "node-a", Until: time.Now().Add(time.Minute)}}
	writeJournal(t, st, Journal{Op: "drain", Owner: deadOwner(t), Step: "hold", Successor: "node-c", Holds: holds, Started: time.Now()})
	var released []HoldIntent
	rec := Recovery{
		UndoFence:    func(context.Context, FenceIntent, io.Writer) error { t.Error("no fence was issued"); return nil },
		ReleaseHolds: func(_ context.Context, h []HoldIntent, _ io.Writer) error { released = h; return nil },
	}
	rep, err := Recover(context.Background(), st, rec, 0, io.Discard)
	if err != nil || rep.Decision.Action != RollBack || len(released) != 1 || released[0].Node != "node-b" {
		t.Fatalf("Recover = %+v, %v; released %+v", rep, err, released)
	}
	if !strings.Contains(rep.Detail, "the holds on the other nodes are released") {
		t.Errorf("recovery detail: %s", rep.Detail)
	}
	// A release that fails is recorded; the holds end by their lease.
	writeJournal(t, st, Journal{Op: "drain", Owner: deadOwner(t), Step: "hold", Successor: "node-c", Holds: holds, Started: time.Now()})
	rec.ReleaseHolds = func(context.Context, []HoldIntent, io.Writer) error { return errors.New("node-b: connection refused") }
	rep, err = Recover(context.Background(), st, rec, 0, io.Discard)
	if err != nil || !strings.Contains(rep.Detail, "releasing the holds failed (node-b: connection refused): they end by their lease (node-b until") {
		t.Fatalf("Recover = %+v, %v", rep, err)
	}
}

// A drain killed between its answer step and its flip: recovery ends the
// answer lease whatever it decides, and says when it could not.
func TestRecoverEndsTheAnswerLease(t *testing.T) {
	st := upStore(t)
	for _, tc := range []struct {
		step  string
		err   error
		wants string
	}{
		{"answer", nil, "its answer lease is ended"},
		{"flip", nil, "its answer lease is ended"},
		{"answer", errors.New("operation not permitted"), "its answer lease could not be ended (operation not permitted): the next `hacheck check` run as root ends it"},
	} {
		writeJournal(t, st, Journal{Op: "drain", Owner: deadOwner(t), Step: tc.step, Started: time.Now()})
		ended := 0
		rec := Recovery{EndAnswer: func(io.Writer) (bool, error) { ended++; return tc.err == nil, tc.err }}
		rep, err := Recover(context.Background(), st, rec, 0, io.Discard)
		if err != nil || ended != 1 || !strings.Contains(rep.Detail, tc.wants) {
			t.Errorf("step %s: Recover = %+v, %v; EndAnswer called %d times; want %q in the detail", tc.step, rep, err, ended, tc.wants)
		}
	}
}

// What a power loss can leave of the writes without fsync: an empty
// journal before the first undo was written is no journal; after it, the
// durable undo stays readable whatever became of the marks beside it.
func TestJournalAfterAPowerLoss(t *testing.T) {
	st := upStore(t)
	var w JournalWriter
	if err := w.begin(st, Options{Reason: "r"}, []Step{&fakeStep{name: "fence"}, &fakeStep{name: "catch-up"}}, 1); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(journalPath(st), nil, 0o644) // the fresh journal, lost
	if _, err := LoadJournal(st); !errors.Is(err, ErrNoJournal) {
		t.Fatalf("empty journal before any undo: %v, want no journal", err)
	}

	if err := w.Fence("a", db.ReadOnlyState{Dialect: db.MariaDB}); err != nil {
		t.Fatal(err)
	}
	if err := w.step("catch-up"); err != nil {
		t.Fatal(err)
	}
	if err := w.Frozen("0-1-9"); err != nil {
		t.Fatal(err)
	}
	j, err := LoadJournal(st)
	if err != nil || j.Fence == nil || j.Step != "catch-up" || j.Frozen != "0-1-9" {
		t.Fatalf("after the undo and the marks: %+v, %v", j, err)
	}
	os.WriteFile(progressPath(st), nil, 0o644) // the marks, lost
	j, err = LoadJournal(st)
	if err != nil || j.Fence == nil || j.Fence.Server != "a" || j.Step != "preconditions" {
		t.Fatalf("marks lost: %+v, %v; want the durable undo, at the step it was written at", j, err)
	}
	if err := w.done(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{journalPath(st), progressPath(st)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after done: %v", p, err)
		}
	}
}
