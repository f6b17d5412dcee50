// Package drain carries out `hacheck drain`: verify, act, flip.
//
//  1. Preconditions (check.Precondition) all run, in order; if any fails
//     the drain is refused and nothing has changed.
//  2. Steps (e.g. fence the database, wait for the replica) run in order;
//     if one fails, the steps already done are undone in reverse order and
//     the drain is refused.
//  3. The state flips to drained (keepalived moves the VIP at once).
//
// The whole operation holds the state's operation lock, so two drains (or
// a drain and an undrain) never interleave.
//
// A drain with steps writes its intent to the drain journal before the
// first step and updates it per step (journal.go); a drain killed midway
// is recovered by the next hacheck that looks (recover.go): before the flip
// its fence is undone (and, for a move among several nodes, the holds on
// the other nodes released), after it the record is completed.
//
// A drain among several nodes first chooses its successor: Choose
// (successor.go) is the pure rule over what was read of each peer.
package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
)

// Step is an action of the drain that can be undone.
type Step interface {
	Name() string
	// Do performs the step, writing progress to out.
	Do(ctx context.Context, out io.Writer) error
	// Undo reverts Do; it is called only after Do succeeded.
	Undo(ctx context.Context, out io.Writer) error
	// Describe says what Do would do, for --dry-run.
	Describe() string
}

// Plan is everything a drain runs before the flip.
type Plan struct {
	Preconditions       []check.Precondition
	PreconditionTimeout time.Duration
	// Warm runs beside the preconditions, each in its own goroutine, and
	// must change nothing: it readies what the steps use (takes the
	// database connections the fence needs and learns their ids), so that
	// the first step does not start with dials and round trips. The steps
	// start once the preconditions and every Warm have returned.
	Warm []func(context.Context)
	// Release runs when the drain ends, however it ended: it hands back
	// what Warm took and no step used (a refused drain never runs them).
	Release []func()
	Steps   []Step
	// KeepSteps, when set, skips the undo of steps on failure (e.g.
	// --keep-fenced).
	KeepSteps bool
	// Journal, when set, is the journal the steps report to (the fence
	// saves its prior state there before it is issued); Run creates one
	// when it is nil.
	Journal *JournalWriter
	// Recovery is how an interrupted drain found by this one is recovered.
	Recovery Recovery
}

// Options of one drain.
type Options struct {
	Reason string
	By     string // who; state.Actor() when empty
	Via    string // cli or http
	From   string // http: the client
	DryRun bool
	Force  bool // drain: skip preconditions and steps; undrain: skip the Galera Synced rule (recorded)
	// ClearStale (undrain only) also clears a stale ex-primary mark: the
	// operator vouches that this server lacks nothing of the primary's.
	ClearStale bool
	// To (drain among several nodes) names the successor; "" chooses the
	// most up-to-date eligible replica (see Choose).
	To string
}

// Request is one `hacheck drain` with its flags. The CLI runs it in its
// own process; serve runs it for the CLI (POST /v1/cli/drain on the admin
// socket), from its open connections. See node.RunDrain.
type Request struct {
	Options    Options       `json:"options"`
	KeepFenced bool          `json:"keep_fenced"` // --keep-fenced
	Follow     bool          `json:"follow"`      // --follow
	Timeout    time.Duration `json:"timeout"`     // --timeout: the drain's bound; 0 is drain.timeout
}

// Outcome is how a drain ended.
type Outcome int

const (
	Drained        Outcome = iota // the state changed to drained
	AlreadyDrained                // nothing to do
	DryRunPassed                  // --dry-run: the preconditions pass
	Refused                       // a precondition or step failed; nothing changed
)

// Result reports a drain.
type Result struct {
	Outcome  Outcome
	State    state.State
	Failures []check.Result // every failed precondition or step
	Phases   []Phase        // how long each part took
}

// Phase is the duration of one part of the drain, for the log and metrics.
type Phase struct {
	Name string
	Took time.Duration
}

// ErrRefused wraps the reason of a refused drain.
var ErrRefused = errors.New("drain refused")

// ErrUnfinished wraps what is left of a drain among several nodes whose
// flip happened (the node is drained) but whose finish did not complete:
// the successor not promoted in time, a replica not repointed.
var ErrUnfinished = errors.New("the move is not finished")

// Run carries out a drain. A non-nil error with Outcome Refused means the
// preconditions or steps said no; any other error means hacheck itself
// could not do its job (state directory unwritable, lock busy).
func Run(ctx context.Context, st state.Store, plan Plan, opt Options, out io.Writer) (res Result, err error) {
	started := time.Now()
	release, err := st.OpLock(ctx)
	if err != nil {
		return Result{Outcome: Refused}, err
	}
	defer release()
	// The record is written under the lock, like the journal: temp files of
	// either found under it are a dead writer's.
	defer func() {
		if Counted(opt, res, err) {
			rec := NewRecord(started, opt, res, err)
			rec.Killed = killedBy(plan)
			if rerr := errors.Join(SaveRecord(st, rec), AddStats(st, rec)); rerr != nil {
				fmt.Fprintf(out, "warning: could not record this drain for metrics: %v\n", rerr)
			}
		}
	}()
	return run(ctx, st, plan, opt, out)
}

func run(ctx context.Context, st state.Store, plan Plan, opt Options, out io.Writer) (Result, error) {
	defer func() {
		for _, release := range plan.Release {
			release()
		}
	}()
	if _, err := recoverLocked(ctx, st, plan.Recovery, out); err != nil {
		if !opt.Force || opt.DryRun {
			return Result{Outcome: Refused}, fmt.Errorf("%w: %v; nothing was changed (run `hacheck status` to retry the recovery)", ErrRefused, err)
		}
		fmt.Fprintf(out, "warning: %v; --force drains anyway\n", err)
	}
	cur, curErr := st.Load()
	if curErr == nil && !cur.IsUp() {
		fmt.Fprintf(out, "already drained (since %s by %s: %s); nothing to do\n", cur.ChangedAt.Format(time.RFC3339), cur.ChangedBy, cur.Reason)
		return Result{Outcome: AlreadyDrained, State: cur}, nil
	}

	change := state.Change{To: state.Drained, Reason: opt.Reason, By: opt.By, Forced: opt.Force, Via: opt.Via, From: opt.From}
	commit := func() (state.State, bool, error) { return st.Set(change) }
	var res Result
	phase := func(name string, start time.Time) {
		res.Phases = append(res.Phases, Phase{Name: name, Took: time.Since(start)})
	}

	if opt.Force {
		if opt.DryRun {
			fmt.Fprintln(out, "dry run with --force: would skip every precondition and step, then mark this node drained")
			res.Outcome = DryRunPassed
			return res, nil
		}
		fmt.Fprintln(out, "--force: skipping preconditions and steps")
	} else {
		if len(plan.Steps) > 0 && !opt.DryRun {
			// The journal first: a step's Warm may save its undo there (the
			// fence's prior state) while the preconditions run. A refused
			// drain removes it.
			if plan.Journal == nil {
				plan.Journal = &JournalWriter{}
			}
			if err := plan.Journal.begin(st, opt, plan.Steps, cur.Generation); err != nil {
				res.Outcome = Refused
				return res, fmt.Errorf("%w: %v; nothing was changed", ErrRefused, err)
			}
		}
		start := time.Now()
		warmed := warm(ctx, plan)
		results := check.RunPreconditions(ctx, plan.Preconditions, plan.PreconditionTimeout, out)
		warmed()
		phase("preconditions", start)
		for _, r := range results {
			if !r.OK {
				res.Failures = append(res.Failures, r)
			}
		}
		if len(res.Failures) > 0 {
			plan.finishJournal(out)
			res.Outcome = Refused
			return res, fmt.Errorf("%w: %d of %d preconditions failed; nothing was changed", ErrRefused, len(res.Failures), len(results))
		}
		if opt.DryRun {
			for _, s := range plan.Steps {
				fmt.Fprintf(out, "would %s\n", s.Describe())
			}
			fmt.Fprintln(out, "would mark this node drained (keepalived gives the VIP away)")
			res.Outcome = DryRunPassed
			return res, nil
		}
		if len(plan.Steps) > 0 {
			// The flip is written ahead while the steps run (state.Flip):
			// after the last step keepalived sees it one fsync later.
			var prep sync.WaitGroup
			var flip *state.Flip
			prep.Go(func() { flip = st.PrepareFlip(change) })
			defer func() { prep.Wait(); flip.Abort() }() // after Commit: nothing left
			if err := runSteps(ctx, plan, out, &res, phase); err != nil {
				return res, err
			}
			prep.Wait()
			commit = flip.Commit
		}
	}

	if err := ctx.Err(); err != nil {
		// Interrupted or out of time after the steps: do not flip late.
		if !opt.Force && !plan.KeepSteps {
			undo(plan, len(plan.Steps), out)
		} else {
			plan.finishJournal(out)
		}
		res.Outcome = Refused
		return res, fmt.Errorf("%w: interrupted before the flip (%v); nothing was changed", ErrRefused, err)
	}
	if plan.Journal != nil {
		if err := plan.Journal.step("flip"); err != nil {
			undo(plan, len(plan.Steps), out)
			res.Outcome = Refused
			return res, fmt.Errorf("%w: %v; nothing was changed", ErrRefused, err)
		}
	}
	start := time.Now()
	s, changed, err := commit()
	phase("flip", start)
	if err != nil && changed {
		// state.json says drained: keepalived moves the VIP (by the track
		// file, or by `hacheck check` at its next run). Undoing the steps
		// now would unfence a server that is about to lose it.
		fmt.Fprintf(out, "warning: %v; the state IS drained (state.json), and serve repairs the track file\n", err)
		err = nil
	}
	if err != nil {
		// The state did not change: undo the steps so nothing is left half done.
		if !opt.Force && !plan.KeepSteps {
			undo(plan, len(plan.Steps), out)
		} else {
			plan.finishJournal(out)
		}
		res.Outcome = Refused
		return res, fmt.Errorf("mark drained: %w", err)
	}
	// The flip is done: the journal has served.
	plan.finishJournal(out)
	res.State = s
	res.Outcome = Drained
	if !changed {
		res.Outcome = AlreadyDrained
	}
	return res, nil
}

// warm starts plan.Warm, bounded by the precondition timeout; the func it
// returns waits for all of them.
func warm(ctx context.Context, plan Plan) (wait func()) {
	if len(plan.Warm) == 0 {
		return func() {}
	}
	wctx, cancel := context.WithTimeout(ctx, plan.PreconditionTimeout)
	var wg sync.WaitGroup
	for _, w := range plan.Warm {
		wg.Go(func() { w(wctx) })
	}
	return func() {
		wg.Wait()
		cancel()
	}
}

func runSteps(ctx context.Context, plan Plan, out io.Writer, res *Result, phase func(string, time.Time)) error {
	for i, s := range plan.Steps {
		start := time.Now()
		fmt.Fprintf(out, "step %s: running\n", s.Name())
		var err error
		if plan.Journal != nil {
			err = plan.Journal.step(s.Name())
		}
		if err == nil {
			err = s.Do(ctx, out)
		}
		phase(s.Name(), start)
		if err == nil {
			fmt.Fprintf(out, "step %s: done in %s\n", s.Name(), time.Since(start).Round(time.Millisecond))
			continue
		}
		fmt.Fprintf(out, "step %s: FAILED: %v\n", s.Name(), err)
		res.Failures = append(res.Failures, check.Result{Name: s.Name(), Detail: err.Error(), Took: time.Since(start), At: start})
		res.Outcome = Refused
		if plan.KeepSteps {
			fmt.Fprintln(out, "leaving the steps already done in place, as asked")
			plan.finishJournal(out)
		} else {
			undo(plan, i, out)
		}
		return fmt.Errorf("%w: step %s failed: %v", ErrRefused, s.Name(), err)
	}
	return nil
}

// undo reverts steps [0, n) in reverse order. It uses its own deadline:
// the drain's may already have passed, and an undo must still happen. When
// every undo succeeded the journal is removed; otherwise it stays, and the
// next hacheck that looks once this drain has ended tries the undo again.
func undo(plan Plan, n int, out io.Writer) {
	ok := true
	for i := n - 1; i >= 0; i-- {
		s := plan.Steps[i]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Undo(ctx, out); err != nil {
			ok = false
			fmt.Fprintf(out, "undo %s: FAILED: %v (fix this by hand)\n", s.Name(), err)
		} else {
			fmt.Fprintf(out, "undo %s: done\n", s.Name())
		}
		cancel()
	}
	if ok {
		plan.finishJournal(out)
	} else if plan.Journal != nil {
		fmt.Fprintf(out, "the drain journal (%s) stays: the next hacheck to run tries the undo again\n", JournalName)
	}
}

// finishJournal removes the journal: the drain ended as it should.
func (plan Plan) finishJournal(out io.Writer) {
	if plan.Journal == nil {
		return
	}
	if err := plan.Journal.done(); err != nil {
		fmt.Fprintf(out, "warning: %v\n", err)
	}
}

// Undrain marks the node up again, under the operation lock. prepare,
// when not nil, runs first, under the lock (on a Galera node it refuses
// until the node is Synced, unless opt.Force; with mysql.dsn it makes this
// node's server an eligible standby: see cutover.PrepareStandby); if it
// fails, the state is unchanged. The CLI and the HTTP admin API both call
// it, through internal/node.
//
// An interrupted drain found first is recovered (see Recover); if that
// fails, the undrain is refused.
func Undrain(ctx context.Context, st state.Store, rec Recovery, prepare func(context.Context, io.Writer) error, opt Options, out io.Writer) (state.State, bool, error) {
	release, err := st.OpLock(ctx)
	if err != nil {
		return state.State{}, false, err
	}
	defer release()
	if _, err := recoverLocked(ctx, st, rec, out); err != nil {
		return state.State{}, false, fmt.Errorf("%w: %v; the state is unchanged", ErrRefused, err)
	}
	if prepare != nil {
		if err := prepare(ctx, out); err != nil {
			return state.State{}, false, fmt.Errorf("%w: %v; the state is unchanged", ErrRefused, err)
		}
	}
	return st.Set(state.Change{To: state.Up, ClearStale: opt.ClearStale, Reason: opt.Reason, By: opt.By, Forced: opt.Force, Via: opt.Via, From: opt.From})
}

// Summary is how a drain ended, in the words that both the CLI and the
// admin API use: Word is the admin API's outcome (drained,
// already_drained, dry_run_passed, refused, busy, error) and Message the
// line a person reads. Failed is set for refused, busy and error.
type Summary struct {
	Word    string
	Message string
	Failed  bool
}

// Summarize maps a drain's result and error to its Summary.
func Summarize(res Result, err error) Summary {
	switch {
	case errors.Is(err, state.ErrBusy):
		return Summary{Word: "busy", Message: err.Error() + "; try again when it has finished", Failed: true}
	case errors.Is(err, ErrUnfinished):
		return Summary{Word: "unfinished", Message: fmt.Sprintf("this node IS drained (generation %d), but %v", res.State.Generation, err), Failed: true}
	case err != nil && res.Outcome == Refused && len(res.Failures) > 0:
		var b strings.Builder
		b.WriteString("drain refused; the state is unchanged. Failed:")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "\n  - %s: %s", f.Name, f.Detail)
		}
		b.WriteString("\nFix these, or run `hacheck drain --force` to drain anyway.")
		return Summary{Word: "refused", Message: b.String(), Failed: true}
	case err != nil:
		return Summary{Word: "error", Message: "drain failed: " + err.Error(), Failed: true}
	case res.Outcome == AlreadyDrained:
		return Summary{Word: "already_drained", Message: "already drained; nothing to do"}
	case res.Outcome == DryRunPassed:
		return Summary{Word: "dry_run_passed", Message: "dry run: every precondition passed; nothing was changed"}
	}
	return Summary{Word: "drained", Message: fmt.Sprintf("drained (generation %d)", res.State.Generation)}
}
