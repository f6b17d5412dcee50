package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/exitcode"
)

// RunDrain is the whole of `hacheck drain` once its flags are read: the
// drain (DrainKeeping), the outcome's line, on a Galera node the wait for
// galera.transition_period, and with Follow, after the flip, the wait for
// the peer's promotion and the follow of it, with a budget of its own. Its
// progress goes to out; an error is an *exitcode.Error.
func (n *Node) RunDrain(ctx context.Context, req drain.Request, out io.Writer) error {
	if req.Follow && !n.HasDatabase() {
		return &exitcode.Error{Code: exitcode.Usage, Msg: "--follow needs mysql.dsn (and peer.mysql_dsn, replication.user) in the configuration"}
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = n.cfg.Drain.Timeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := n.DrainKeeping(dctx, req.Options, req.KeepFenced, out)
	sum := drain.Summarize(res, err)
	switch {
	case sum.Failed:
		return &exitcode.Error{Code: exitcode.Fail, Msg: sum.Message}
	case res.Outcome == drain.AlreadyDrained:
		// drain.Run has said so, with who drained it and why.
	default:
		fmt.Fprintln(out, sum.Message)
	}
	if res.Outcome == drain.Drained {
		galeraTransition(ctx, n.cfg.Galera, out)
	}
	if !req.Follow || req.Options.DryRun {
		return nil
	}
	// The flip is done; following gets its own budget, as the promotion
	// on the peer only starts once the VIP has moved.
	fctx, fcancel := context.WithTimeout(ctx, n.cfg.Drain.Timeout)
	defer fcancel()
	if err := n.Follow(fctx, 200*time.Millisecond, out); err != nil {
		code := exitcode.Fail
		msg := "follow: " + err.Error()
		if errors.Is(err, ErrFollowConfig) {
			code, msg = exitcode.Usage, err.Error()
		}
		return &exitcode.Error{Code: code, Msg: "this node IS drained, but " + msg + "\nrun `hacheck follow` once the peer is promoted"}
	}
	return nil
}

// galeraTransition waits galera.transition_period after a drain of a
// Galera node flipped the state, so load balancers move their traffic
// (HAProxy sees /healthz fail at its next check, then lets sessions end)
// before the operator stops the server. An interrupt ends the wait early;
// the node stays drained either way.
func galeraTransition(ctx context.Context, g config.Galera, out io.Writer) {
	if !g.DSN.IsSet() || g.TransitionPeriod <= 0 {
		return
	}
	fmt.Fprintf(out, "waiting galera.transition_period (%s) for load balancers to move their traffic\n", g.TransitionPeriod)
	select {
	case <-time.After(g.TransitionPeriod):
		fmt.Fprintln(out, "this Galera node can be stopped now")
	case <-ctx.Done():
		fmt.Fprintf(out, "interrupted (%v): the node IS drained, but wait %s after the drain before stopping it\n", context.Cause(ctx), g.TransitionPeriod)
	}
}
