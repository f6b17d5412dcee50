package drain

import (
	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
)

// PlanFor builds the preconditions and steps of a drain from the
// configuration. The CLI and the HTTP admin API both use it, so a drain is
// the same whichever way it is asked for.
func PlanFor(cfg *config.Config, opt Options) (Plan, error) {
	env := []string{"HACHECK_NODE=" + cfg.Node, "HACHECK_STATE_DIR=" + cfg.StateDir}
	if opt.DryRun {
		env = append(env, "HACHECK_DRY_RUN=1")
	}
	pre, err := check.ScriptPreconditions(cfg.PreconditionsDir, env)
	if err != nil {
		return Plan{}, err
	}
	return Plan{Preconditions: pre, PreconditionTimeout: cfg.PreconditionTimeout}, nil
}
