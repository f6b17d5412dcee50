package drain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
)

// Recovery is what recovering an interrupted drain needs of the node.
type Recovery struct {
	// UndoFence puts this node's server back to the state the journal
	// saved before the fence (as a refused drain's undo does), writing
	// what it did to out. An error wrapping ErrKeepFenced means the
	// server must stay read-only (e.g. this node no longer holds the
	// VIP): recovery then completes without unfencing. nil: no database.
	UndoFence func(ctx context.Context, f FenceIntent, out io.Writer) error
	// ReleaseHolds asks the nodes of holds to drop them (a drain among
	// several nodes killed before its flip); nil: the holds end by their
	// lease.
	ReleaseHolds func(ctx context.Context, holds []HoldIntent, out io.Writer) error
	// EndAnswer ends an answer lease (internal/answer) the interrupted
	// drain may have begun just before its flip, whatever the decision: if
	// the drain is rolled back this node keeps the VIP unfenced, and must
	// not go on answering for it after a later, unplanned departure. It
	// reports whether there was one. nil: no VIP is configured.
	EndAnswer func(out io.Writer) (bool, error)
}

// ErrKeepFenced, from Recovery.UndoFence, says that leaving the server
// read-only is the safe outcome.
var ErrKeepFenced = errors.New("leaving the server read-only")

// ErrRecoveryBusy means an interrupted drain was found but another hacheck
// holds the operation lock (it recovers it, or a new drain will first).
var ErrRecoveryBusy = errors.New("an interrupted drain is being recovered by another hacheck on this node")

// RecoveryReport says what Recover found and did.
type RecoveryReport struct {
	Found    bool // a journal was there
	Journal  Journal
	Decision Decision
	Detail   string // what recovery did, as recorded in last_drain.json
}

// DefaultRecoveryLockWait bounds how long Recover waits for the operation
// lock. A live drain holds it for its whole run, and a dead one's lock is
// released by the kernel, so a long wait tells nothing more.
const DefaultRecoveryLockWait = 100 * time.Millisecond

// Recover looks for an interrupted drain (a journal whose owner is gone)
// and recovers it under the operation lock, waiting at most lockWait for
// the lock. A journal whose owner is alive is a running drain: it is
// reported (InProgress) and left alone. Nothing found: a zero report.
func Recover(ctx context.Context, st state.Store, rec Recovery, lockWait time.Duration, out io.Writer) (RecoveryReport, error) {
	j, err := LoadJournal(st)
	if errors.Is(err, ErrNoJournal) {
		return RecoveryReport{}, nil
	}
	if err != nil {
		return RecoveryReport{}, err
	}
	running := Decide(j, true, state.State{}, nil)
	// A journal of this very process (serve's admin API) is a running
	// drain only while the lock is held: the lock tells.
	self := j.Owner.PID == os.Getpid() && j.Owner.Alive(Look(j.Owner))
	if !self && j.Owner.Alive(Look(j.Owner)) {
		return RecoveryReport{Found: true, Journal: j, Decision: running}, nil
	}
	if lockWait <= 0 {
		lockWait = DefaultRecoveryLockWait
	}
	lctx, cancel := context.WithTimeout(ctx, lockWait)
	release, err := st.OpLock(lctx)
	cancel()
	if errors.Is(err, state.ErrBusy) && self {
		return RecoveryReport{Found: true, Journal: j, Decision: running}, nil
	}
	if errors.Is(err, state.ErrBusy) {
		return RecoveryReport{Found: true, Journal: j}, fmt.Errorf("%w (drain of %s, step %s)", ErrRecoveryBusy, j.Owner, j.Step)
	}
	if err != nil {
		return RecoveryReport{Found: true, Journal: j}, err
	}
	defer release()
	return recoverLocked(ctx, st, rec, out)
}

// recoverLocked is Recover for a caller that holds the operation lock:
// whoever wrote a journal held it, so the journal's owner is gone.
func recoverLocked(ctx context.Context, st state.Store, rec Recovery, out io.Writer) (RecoveryReport, error) {
	if err := state.RemoveTemps(st.Dir, 0, JournalName, RecordName); err != nil {
		fmt.Fprintf(out, "warning: remove temp files: %v\n", err)
	}
	j, err := LoadJournal(st)
	if errors.Is(err, ErrNoJournal) {
		return RecoveryReport{}, nil
	}
	if err != nil {
		return RecoveryReport{}, err
	}
	cur, curErr := st.Load()
	d := Decide(j, false, cur, curErr)
	rep := RecoveryReport{Found: true, Journal: j, Decision: d}
	what := d.Why
	if rec.EndAnswer != nil {
		switch found, aerr := rec.EndAnswer(out); {
		case aerr != nil:
			what += fmt.Sprintf("; its answer lease could not be ended (%v): the next `hacheck check` run as root ends it, or run `hacheck doctor` as root", aerr)
		case found:
			what += "; its answer lease is ended"
		}
	}
	switch {
	case d.Action == RollBack && d.Unfence && rec.UndoFence == nil:
		what += "; no database is configured now, so the fence of " + j.Fence.Server + " could not be undone: check it by hand"
	case d.Action == RollBack && d.Unfence:
		var b bytes.Buffer
		uerr := rec.UndoFence(ctx, *j.Fence, &b)
		fmt.Fprint(out, b.String())
		switch {
		case errors.Is(uerr, ErrKeepFenced):
			what += "; but " + uerr.Error()
		case uerr != nil:
			return rep, fmt.Errorf("undo the fence of an interrupted drain (%s, step %s): %w", j.Owner, j.Step, uerr)
		default:
			what += fmt.Sprintf("; %s is back to %s", j.Fence.Server, j.Fence.Prior())
		}
	}
	if d.Release {
		if rec.ReleaseHolds == nil {
			what += "; the holds on " + holdNames(j.Holds) + " end by their lease"
		} else if rerr := rec.ReleaseHolds(ctx, j.Holds, out); rerr != nil {
			what += fmt.Sprintf("; releasing the holds failed (%v): they end by their lease (%s)", rerr, holdNames(j.Holds))
		} else {
			what += "; the holds on the other nodes are released"
		}
	}
	switch d.Action {
	case RollBack, LeaveFenced:
		rep.Detail = "interrupted drain rolled back: " + what
	default:
		rep.Detail = "interrupted drain completed: " + what
	}
	r := Record{At: j.Started, Outcome: "interrupted", By: j.By, Via: j.Via, Reason: j.Reason, Phases: []PhaseRecord{},
		Error:     fmt.Sprintf("the drain (%s) ended without finishing, at step %s", j.Owner, j.Step),
		Recovery:  rep.Detail,
		Recovered: time.Now().UTC(), Step: j.Step, Total: time.Since(j.Started).Seconds()}
	if err := SaveRecord(st, r); err != nil {
		return rep, fmt.Errorf("record the recovery of an interrupted drain: %w", err)
	}
	if err := removeJournal(st); err != nil {
		return rep, err
	}
	fmt.Fprintln(out, rep.Detail)
	return rep, nil
}

// JournalCheck is the live check that finds an interrupted drain and
// recovers it (see Recover): `check` and `status` run it once, `serve`
// every Interval (so within a second). It passes when there is no
// journal, when a live drain owns it, and when it has just recovered one;
// it fails when a dead drain's journal could not be recovered (the lock is
// held by another hacheck, the server did not answer, ...), because the
// server may be fenced while this node still holds the VIP: fail closed.
type JournalCheck struct {
	Store    state.Store
	Recovery Recovery
	LockWait time.Duration // default DefaultRecoveryLockWait
}

var _ check.Checker = (*JournalCheck)(nil)

func (c *JournalCheck) Name() string { return "drain-journal" }

func (c *JournalCheck) Check(ctx context.Context) check.Result {
	rep, err := Recover(ctx, c.Store, c.Recovery, c.LockWait, io.Discard)
	switch {
	case err != nil && rep.Found:
		return check.Result{Detail: fmt.Sprintf("a drain (%s) was interrupted at step %s and is not recovered yet: %v; run `hacheck status` to retry the recovery and see what it did", rep.Journal.Owner, rep.Journal.Step, err)}
	case err != nil:
		return check.Result{Detail: err.Error() + "; look at the server's read_only and the state, then remove " + JournalName}
	case !rep.Found:
		return check.Result{OK: true, Detail: "no interrupted drain"}
	case rep.Decision.Action == InProgress:
		return check.Result{OK: true, Detail: rep.Decision.Why}
	}
	return check.Result{OK: true, Detail: rep.Detail}
}
