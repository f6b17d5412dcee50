package node

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/drain"
)

// waitForJobs is the first thing a drain does (not a dry run, not
// --force): it waits for the jobs that `hacheck run --role primary|up`
// runs on this node to end, at most half of what is left of ctx, and keeps
// new ones from starting until the drain returns (state.QuiesceJobs). A
// job that outlasts the wait refuses the drain with nothing changed.
func (n *Node) waitForJobs(ctx context.Context, opt drain.Options, out io.Writer) (release func(), err error) {
	if opt.DryRun || opt.Force {
		return func() {}, nil
	}
	quick, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	release, err = n.store.QuiesceJobs(quick)
	cancel()
	if err == nil {
		return release, nil
	}
	wait := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl) / 2
	}
	fmt.Fprintf(out, "waiting up to %s for the job started by `hacheck run` on this node to end\n", wait.Round(time.Millisecond))
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	release, err = n.store.QuiesceJobs(wctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (waited %s); nothing was changed: let it finish or stop it, then drain again (`hacheck drain --force` does not wait)", drain.ErrRefused, err, wait.Round(time.Millisecond))
	}
	return release, nil
}

// HoldJob is what `hacheck run` holds while its command runs (see
// waitForJobs); state.ErrDraining when a drain of this node has begun.
func (n *Node) HoldJob() (release func(), err error) { return n.store.HoldJob() }
