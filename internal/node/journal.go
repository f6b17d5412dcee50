package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/health"
)

// journalCheckInterval is how often `serve` looks for an interrupted
// drain: a drain killed after its fence is undone within a second.
const journalCheckInterval = 500 * time.Millisecond

// recovery is how this node recovers an interrupted drain: the fence is
// undone on this node's server, unless this node no longer holds the VIP
// (the peer may have been promoted since: then the server stays fenced).
func (n *Node) recovery() drain.Recovery {
	if n.local == nil {
		return drain.Recovery{}
	}
	return drain.Recovery{ReleaseHolds: n.releaseHolds, EndAnswer: n.endAnswer(), UndoFence: func(ctx context.Context, f drain.FenceIntent, out io.Writer) error {
		if v := n.vipView(); v.Known {
			if v.Err != nil {
				return fmt.Errorf("whether this node holds the VIP is unknown: %v", v.Err)
			}
			if !v.Held {
				return fmt.Errorf("%w: this node does not hold the VIP %s", drain.ErrKeepFenced, n.cfg.VIP.Address)
			}
		}
		ctx, cancel := context.WithTimeout(ctx, n.cfg.MySQL.FenceTimeout)
		defer cancel()
		return cutover.UndoFence(ctx, n.local, f.Prior(), out)
	}}
}

// journalCheck is the live check that recovers an interrupted drain
// (drain.JournalCheck); only with mysql.dsn, as without a database a
// killed drain leaves nothing to undo.
func (n *Node) journalCheck() *health.Entry {
	if n.local == nil {
		return nil
	}
	return &health.Entry{
		Checker:  &drain.JournalCheck{Store: n.store, Recovery: n.recovery()},
		Timeout:  n.cfg.CheckTimeout,
		Interval: journalCheckInterval,
	}
}

// journal wires the fence's hooks to a new drain journal.
func journalFence(f *cutover.Fence) *drain.JournalWriter {
	jw := &drain.JournalWriter{}
	f.Intent = func(prior db.ReadOnlyState) error { return jw.Fence(f.Local.String(), prior) }
	f.Fenced = jw.Frozen
	return jw
}

// DrainStatus is the drain journal and the last drain's record, for status
// and /status.
func (n *Node) DrainStatus() *health.DrainStatus {
	var ds health.DrainStatus
	j, err := drain.LoadJournal(n.store)
	switch {
	case err == nil:
		alive := j.Owner.Alive(drain.Look(j.Owner))
		dj := &health.DrainJournal{PID: j.Owner.PID, Started: j.Started, Step: j.Step, OwnerAlive: alive, Fenced: j.FenceMaybeSent()}
		if alive {
			dj.Detail = fmt.Sprintf("a drain is running (%s), at step %s", j.Owner, j.Step)
		} else {
			dj.Detail = fmt.Sprintf("INTERRUPTED: the drain (%s) ended at step %s without finishing; not recovered yet (run `hacheck status` again, or `hacheck undrain`)", j.Owner, j.Step)
		}
		ds.Journal = dj
	case !errors.Is(err, drain.ErrNoJournal):
		ds.Journal = &health.DrainJournal{Detail: err.Error()}
	}
	if r, ok, err := drain.LoadRecord(n.store); err == nil && ok {
		ds.Last = &health.LastDrain{At: r.At, Outcome: r.Outcome, Error: r.Error, Recovery: r.Recovery, Recovered: r.Recovered}
	}
	ops, err := cutover.Interrupted(n.cfg.StateDir)
	for _, op := range ops {
		ds.Interrupted = append(ds.Interrupted, op.String())
	}
	if err != nil {
		ds.Interrupted = append(ds.Interrupted, err.Error())
	}
	if ds.Journal == nil && ds.Last == nil && len(ds.Interrupted) == 0 {
		return nil
	}
	return &ds
}
