package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

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

// minSlice is the shortest wait slice worth sending to the server.
const minSlice = 150 * time.Millisecond

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
		// Within the last moments of the budget a server-side wait has no
		// room left and returns at once: stop there rather than spin.
		nearEnd := false
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < minSlice {
			nearEnd = true
		}
		if !errors.Is(err, db.ErrGTIDWaitTimeout) || ctx.Err() != nil || nearEnd || time.Since(start) >= c.Timeout {
			if errors.Is(err, db.ErrGTIDWaitTimeout) || ctx.Err() != nil {
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
