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
// that wait is bounded server-side (lock_wait_timeout) and by Timeout. Undo
// makes the server writable again, unless it was already read-only before.
type Fence struct {
	Local   DB
	Timeout time.Duration // mysql.fence_timeout
	Frozen  *Frozen

	wasFenced bool
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
	f.wasFenced = st.Fenced()
	start := time.Now()
	if !f.wasFenced {
		if err := f.Local.SetReadOnly(fctx, true); err != nil {
			if fctx.Err() != nil && ctx.Err() == nil {
				return fmt.Errorf("%w (running writes did not finish within mysql.fence_timeout %s)", err, f.Timeout)
			}
			return err
		}
	}
	// The position is read with the drain's context: the fence is in
	// place, and this read must not fail because the fence took its time.
	pos, err := f.Local.GTIDPosition(ctx)
	if err != nil {
		return err
	}
	f.Frozen.Position, f.Frozen.FencedAt = pos, time.Now()
	if f.wasFenced {
		fmt.Fprintf(out, "  %s was already read-only; frozen GTID position %q\n", f.Local, pos)
	} else {
		fmt.Fprintf(out, "  %s is read-only (took %s); frozen GTID position %q\n", f.Local, time.Since(start).Round(time.Millisecond), pos)
	}
	return nil
}

func (f *Fence) Undo(ctx context.Context, out io.Writer) error {
	if f.wasFenced {
		fmt.Fprintf(out, "  %s was read-only before the drain; leaving it read-only\n", f.Local)
		return nil
	}
	if err := f.Local.SetReadOnly(ctx, false); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s is writable again\n", f.Local)
	return nil
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
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	start := time.Now()
	for {
		// Waits in slices so that progress can be shown; each slice has
		// its own server-side limit.
		err := c.Peer.WaitForGTID(ctx, pos, every)
		if err == nil {
			break
		}
		if !errors.Is(err, hamysql.ErrGTIDWaitTimeout) || ctx.Err() != nil || time.Since(start) >= c.Timeout {
			if errors.Is(err, hamysql.ErrGTIDWaitTimeout) || ctx.Err() != nil {
				return fmt.Errorf("%s has not applied %q after %s (drain.catchup_timeout %s): %w", c.Peer, pos, time.Since(start).Round(time.Millisecond), c.Timeout, err)
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

func (c *CatchUp) Undo(context.Context, io.Writer) error { return nil }
