package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hacheck/hacheck/internal/config"
)

// galeraTransition waits galera.transition_period after a drain of a
// Galera node flipped the state, so load balancers move their traffic
// (HAProxy sees /healthz fail at its next check, then lets sessions end)
// before the operator stops the server. An interrupt ends the wait early;
// the node stays drained either way.
func (a *app) galeraTransition(ctx context.Context, cfg *config.Config) {
	if !cfg.Galera.DSN.IsSet() || cfg.Galera.TransitionPeriod <= 0 {
		return
	}
	fmt.Fprintf(a.stdout, "waiting galera.transition_period (%s) for load balancers to move their traffic\n", cfg.Galera.TransitionPeriod)
	select {
	case <-time.After(cfg.Galera.TransitionPeriod):
		fmt.Fprintln(a.stdout, "this Galera node can be stopped now")
	case <-ctx.Done():
		fmt.Fprintf(a.stdout, "interrupted (%v): the node IS drained, but wait %s after the drain before stopping it\n", context.Cause(ctx), cfg.Galera.TransitionPeriod)
	}
}
