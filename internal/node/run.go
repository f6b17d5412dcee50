package node

import (
	"context"

	"github.com/hacheck/hacheck/internal/health"
)

// RunFacts reads what `hacheck run --role want` decides on: the state and,
// when want needs it, the database role (VIP, read_only, replica status;
// see Role), each read bounded within ctx. A ctx that ended before the
// reads were done is a failed check (CheckErr): never a reason to run.
func (n *Node) RunFacts(ctx context.Context, want health.RunRole) health.RunFacts {
	f := health.RunFacts{VIPConfigured: n.cfg.VIP.Configured(), HasDatabase: n.local != nil}
	st, err := n.store.Load()
	if err != nil {
		f.StateErr = err
		return f
	}
	f.Up, f.Stale = st.IsUp(), st.Stale != nil
	if want.NeedsRole() {
		f.Role = n.Role(ctx)
	}
	if err := ctx.Err(); err != nil {
		f.CheckErr = context.Cause(ctx)
	}
	return f
}
