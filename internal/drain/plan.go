package drain

import (
	"errors"
	"io"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
)

var (
	_ Step = (*cutover.Fence)(nil)
	_ Step = (*cutover.CatchUp)(nil)
)

// PlanFor builds the preconditions and steps of a drain from the
// configuration. The CLI and the HTTP admin API both use it, so a drain is
// the same whichever way it is asked for.
//
// With mysql.dsn set, the drain is a database cutover: after the scripts
// in preconditions_dir comes peer-ready (the peer's hacheck is up and its
// server replicates from this one), then the steps fence (this server
// read-only within mysql.fence_timeout, frozen GTID position read) and
// catch-up (the peer applies that position within drain.catchup_timeout).
// The plan holds database connections: Run closes them when it returns.
func PlanFor(cfg *config.Config, opt Options) (Plan, error) {
	env := []string{"HACHECK_NODE=" + cfg.Node, "HACHECK_STATE_DIR=" + cfg.StateDir}
	if opt.DryRun {
		env = append(env, "HACHECK_DRY_RUN=1")
	}
	pre, err := check.ScriptPreconditions(cfg.PreconditionsDir, env)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{Preconditions: pre, PreconditionTimeout: cfg.PreconditionTimeout}
	if err := addGalera(cfg, &plan); err != nil {
		return Plan{}, err
	}
	if cfg.MySQL.DSN == "" {
		return plan, nil
	}
	pair, err := cutover.OpenPair(cfg)
	if err != nil {
		return Plan{}, err
	}
	plan.closers = append(plan.closers, pair)
	ready := &cutover.PeerReady{Local: pair.Local, URL: cfg.Peer.URL, Timeout: cfg.Peer.Timeout, QueryTimeout: cfg.MySQL.QueryTimeout}
	if pair.Peer != nil {
		ready.Peer = pair.Peer
	}
	plan.Preconditions = append(plan.Preconditions, ready)
	frozen := &cutover.Frozen{}
	plan.Steps = append(plan.Steps, &cutover.Fence{Local: pair.Local, Timeout: cfg.MySQL.FenceTimeout, Frozen: frozen})
	if pair.Peer != nil {
		plan.Steps = append(plan.Steps, &cutover.CatchUp{Peer: pair.Peer, Timeout: cfg.Drain.CatchupTimeout, Frozen: frozen})
	}
	return plan, nil
}

// Close releases what the plan holds (database connections). Run calls it;
// calling it again does nothing.
func (p *Plan) Close() error {
	var errs []error
	for _, c := range p.closers {
		errs = append(errs, c.Close())
	}
	p.closers = nil
	return errors.Join(errs...)
}

var _ io.Closer = (*Plan)(nil)
