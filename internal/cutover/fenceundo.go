package cutover

import (
	"context"
	"fmt"
	"io"

	"github.com/hacheck/hacheck/internal/db"
)

// pendingFenceKiller ends another session's SET GLOBAL read_only that is
// still waiting on the server; *db.Server implements it.
type pendingFenceKiller interface {
	KillPendingFences(ctx context.Context) (int, error)
}

var _ pendingFenceKiller = (*db.Server)(nil)

// UndoFence puts local back to prior, the state a killed drain saved in its
// journal before its fence, exactly as Fence.Undo does for a drain that is
// still running. A SET GLOBAL read_only = ON sent by the killed drain may
// still wait on the server (for running writes, up to lock_wait_timeout)
// and would land after the undo: it is ended first (KILL QUERY of the same
// account's sessions running it).
func UndoFence(ctx context.Context, local DB, prior db.ReadOnlyState, out io.Writer) error {
	if k, ok := local.(pendingFenceKiller); ok {
		n, err := k.KillPendingFences(ctx)
		if err != nil {
			return fmt.Errorf("end a fence still waiting on %s: %w", local, err)
		}
		if n > 0 {
			fmt.Fprintf(out, "  ended %d fence statement(s) still waiting on %s\n", n, local)
		}
	}
	st, err := local.ReadOnly(ctx)
	if err != nil {
		return err
	}
	if sameReadOnly(st, prior) {
		fmt.Fprintf(out, "  %s is %s, as before the fence\n", local, st)
		return nil
	}
	if err := restoreReadOnly(ctx, local, prior); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s is back to %s, as before the fence\n", local, prior)
	return nil
}
