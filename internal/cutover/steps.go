package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	hamysql "github.com/hacheck/hacheck/check/mysql"
)

// Frozen is the GTID position of the fenced server, handed from Fence to
// CatchUp.
type Frozen struct {
	Position string
	FencedAt time.Time
}

// Fence is the drain step that makes this server read-only (read_only on
// MariaDB, super_read_only on MySQL) within Timeout, then reads its frozen
// GTID position. SET GLOBAL read_only waits for running writes to finish;
// that wait is bounded server-side (lock_wait_timeout) and by Timeout.
//
// The state before the fence (read_only and, on MySQL, super_read_only) is
// saved. Undo puts back exactly that state; a server that was already
// fenced is left as it was. If Do fails after it issued the fence (the
// read-back, the position read, or an expired context: the SET may still
// have landed), Do itself restores the saved state before it returns the
// error, since a drain undoes only the steps before the one that failed: a
// refused drain never leaves the primary read-only.
type Fence struct {
	Local   DB
	Timeout time.Duration // mysql.fence_timeout
	Kill    bool          // mysql.fence_kill: kill what holds the fence up (fencekill.go)
	Grace   time.Duration // mysql.fence_grace: wait this long before killing
	Frozen  *Frozen

	Killed []hamysql.KilledConn // connections the fence killed
	Waited time.Duration        // how long the fence waited to land

	prior  hamysql.ReadOnlyState // before the fence
	issued bool                  // this step sent the fence and has not restored it
}

func (f *Fence) Name() string { return "fence" }

func (f *Fence) Describe() string {
	return fmt.Sprintf("fence %s: set it read-only within %s, then read its frozen GTID position", f.Local, f.Timeout)
}

func (f *Fence) Do(ctx context.Context, out io.Writer) error {
	fctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	st, err := f.Local.ReadOnly(fctx)
	if err != nil {
		return err
	}
	f.prior, f.issued = st, false
	start := time.Now()
	if !st.Fenced() {
		f.issued = true
		if err := f.setFence(fctx, out); err != nil {
			if fctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w (running writes did not finish within mysql.fence_timeout %s%s)", err, f.Timeout, f.killNote())
			}
			return f.failed(ctx, out, err)
		}
	}
	// The position is read with the drain's context: the fence is in
	// place, and this read must not fail because the fence took its time.
	pos, err := f.Local.GTIDPosition(ctx)
	if err != nil {
		return f.failed(ctx, out, fmt.Errorf("read the frozen gtid position: %w", err))
	}
	f.Frozen.Position, f.Frozen.FencedAt = pos, time.Now()
	if !f.issued {
		fmt.Fprintf(out, "  %s was already read-only (%s); frozen GTID position %q\n", f.Local, st, pos)
	} else {
		fmt.Fprintf(out, "  %s is read-only (took %s); frozen GTID position %q\n", f.Local, time.Since(start).Round(time.Millisecond), pos)
	}
	return nil
}

// failed restores the state saved before the fence, when this step issued
// one, and returns err with what the restore did.
func (f *Fence) failed(ctx context.Context, out io.Writer, err error) error {
	if !f.issued {
		return err
	}
	// A fresh context: the drain's may have run out, and the SET may have
	// landed on the server after the client gave up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.restoreTimeout())
	defer cancel()
	if rerr := f.restore(rctx, out); rerr != nil {
		return fmt.Errorf("%w; and the fence could not be undone: %v (fix this by hand)", err, rerr)
	}
	f.issued = false
	return fmt.Errorf("%w (fence undone: %s is back to %s)", err, f.Local, f.prior)
}

// restore re-reads the state and, unless it is already the saved one, puts
// the saved one back.
func (f *Fence) restore(ctx context.Context, out io.Writer) error {
	if st, err := f.Local.ReadOnly(ctx); err == nil && sameReadOnly(st, f.prior) {
		fmt.Fprintf(out, "  %s is %s, as before the fence\n", f.Local, st)
		return nil
	}
	if err := restoreReadOnly(ctx, f.Local, f.prior); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s is back to %s, as before the fence\n", f.Local, f.prior)
	return nil
}

func (f *Fence) restoreTimeout() time.Duration {
	return max(f.Timeout, 2*time.Second)
}

func (f *Fence) Undo(ctx context.Context, out io.Writer) error {
	if !f.issued {
		fmt.Fprintf(out, "  %s was read-only before the drain (%s); leaving it so\n", f.Local, f.prior)
		return nil
	}
	if err := f.restore(ctx, out); err != nil {
		return err
	}
	f.issued = false
	return nil
}

// readOnlyRestorer sets read_only and super_read_only to exactly a saved
// state; *hamysql.Server implements it.
type readOnlyRestorer interface {
	RestoreReadOnly(ctx context.Context, want hamysql.ReadOnlyState) error
}

var _ readOnlyRestorer = (*hamysql.Server)(nil)

// restoreReadOnly puts back a fence state saved before a fence. Without a
// restorer only a fully writable state can be put back exactly
// (SetReadOnly(false)); any other is refused rather than loosened.
func restoreReadOnly(ctx context.Context, db DB, want hamysql.ReadOnlyState) error {
	if r, ok := db.(readOnlyRestorer); ok {
		return r.RestoreReadOnly(ctx, want)
	}
	if want.ReadOnly || want.SuperReadOnly {
		return fmt.Errorf("%s: cannot restore %s exactly; leaving it read-only", db, want)
	}
	return db.SetReadOnly(ctx, false)
}

// sameReadOnly compares the variables that matter in the dialect: MariaDB
// has no super_read_only.
func sameReadOnly(a, b hamysql.ReadOnlyState) bool {
	if a.Dialect == hamysql.MySQL || b.Dialect == hamysql.MySQL {
		return a.ReadOnly == b.ReadOnly && a.SuperReadOnly == b.SuperReadOnly
	}
	return a.ReadOnly == b.ReadOnly
}

// CatchUp is the drain step that waits on the peer until it has applied
// the frozen position (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET with a
// server-side limit that ends before Timeout and before the drain's
// deadline), then verifies that the peer's applied set contains it. While it
// waits, it writes one progress line per Progress interval. Undo has
// nothing to revert.
type CatchUp struct {
	Peer     DB
	Timeout  time.Duration // drain.catchup_timeout
	Progress time.Duration // default 1s
	Frozen   *Frozen
}

func (c *CatchUp) Name() string { return "catch-up" }

func (c *CatchUp) Describe() string {
	return fmt.Sprintf("wait up to %s for %s to apply the frozen GTID position, then verify it contains it", c.Timeout, c.Peer)
}

func (c *CatchUp) Do(ctx context.Context, out io.Writer) error {
	pos := c.Frozen.Position
	every := c.Progress
	if every <= 0 {
		every = time.Second
	}
	parent := ctx
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	for {
		// Waits in slices so that progress can be shown; each slice has
		// its own server-side limit.
		err := c.Peer.WaitForGTID(ctx, pos, every)
		if err == nil {
			break
		}
		if !errors.Is(err, hamysql.ErrGTIDWaitTimeout) || ctx.Err() != nil || time.Since(start) >= c.Timeout {
			if errors.Is(err, hamysql.ErrGTIDWaitTimeout) || ctx.Err() != nil {
				return fmt.Errorf("%s has not applied %q after %s (%s): %w", c.Peer, pos, time.Since(start).Round(time.Millisecond), c.whichLimit(parent, start), err)
			}
			return err
		}
		if st, serr := c.Peer.ReplicaStatus(ctx); serr == nil && st != nil {
			fmt.Fprintf(out, "  waiting %s for %s: it has applied %q of %q (IO %s, SQL %s)\n",
				time.Since(start).Round(time.Second), c.Peer, st.ExecutedGTIDs, pos, st.IORunning, st.SQLRunning)
		} else {
			fmt.Fprintf(out, "  waiting %s for %s to apply %q\n", time.Since(start).Round(time.Second), c.Peer, pos)
		}
	}
	// Verify with a fresh read: MASTER_GTID_WAIT compares only the replica
	// position; the applied set must contain every GTID of ours.
	ok, err := c.Peer.HasApplied(parent, pos)
	if err != nil {
		return fmt.Errorf("verify catch-up: %w", err)
	}
	if !ok {
		return fmt.Errorf("verify catch-up: %s reported the wait done but its applied set does not contain %q", c.Peer, pos)
	}
	fmt.Fprintf(out, "  %s has applied %q (took %s; verified)\n", c.Peer, pos, time.Since(start).Round(time.Millisecond))
	return nil
}

// whichLimit names what ended the wait that started at start: the drain
// being interrupted, the drain's own deadline (drain.timeout or --timeout)
// when it comes before drain.catchup_timeout, or drain.catchup_timeout.
func (c *CatchUp) whichLimit(parent context.Context, start time.Time) string {
	if errors.Is(parent.Err(), context.Canceled) {
		return "the drain was interrupted"
	}
	if dl, ok := parent.Deadline(); ok && !dl.After(start.Add(c.Timeout)) {
		return fmt.Sprintf("the drain's deadline (drain.timeout or --timeout) ran out %s after the catch-up started, before drain.catchup_timeout %s", dl.Sub(start).Round(time.Millisecond), c.Timeout)
	}
	return fmt.Sprintf("drain.catchup_timeout %s", c.Timeout)
}

func (c *CatchUp) Undo(context.Context, io.Writer) error { return nil }
