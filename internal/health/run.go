package health

import "fmt"

// RunRole is the role `hacheck run --role` asks for.
type RunRole string

const (
	// RunPrimary: state up, not a stale ex-primary, holds the VIP, and its
	// server (when mysql.dsn is set) is writable.
	RunPrimary RunRole = "primary"
	// RunReplica: does not hold the VIP, its server is read-only and
	// replicates (both threads running, no error). The state may be up or
	// drained (a drained old primary that follows is a replica), but it
	// must be readable.
	RunReplica RunRole = "replica"
	// RunUp: state up and eligible for the VIP (not a stale ex-primary).
	RunUp RunRole = "up"
)

// ParseRunRole reads a --role value.
func ParseRunRole(s string) (RunRole, error) {
	switch r := RunRole(s); r {
	case RunPrimary, RunReplica, RunUp:
		return r, nil
	}
	return "", fmt.Errorf("role %q: write primary, replica or up", s)
}

// NeedsRole reports whether deciding r needs the database role read (the
// VIP and the server), not only the state.
func (r RunRole) NeedsRole() bool { return r != RunUp }

// HoldsOffDrains reports whether a job run for r keeps a drain of this
// node waiting until it ends: a drain ends the roles primary and up (the
// node is drained, the primary moves away); a replica stays one.
func (r RunRole) HoldsOffDrains() bool { return r != RunReplica }

// RunFacts is what `hacheck run` read just now.
type RunFacts struct {
	// StateErr: the state file could not be read (missing or corrupt);
	// Up and Stale are meaningless then.
	StateErr error
	Up       bool
	Stale    bool
	// CheckErr: the check as a whole failed or ran out of check_timeout.
	CheckErr error
	// VIPConfigured and HasDatabase say what can be read at all; Role is
	// what was read (only when the asked role needs it).
	VIPConfigured bool
	HasDatabase   bool
	Role          Role
}

// RunVerdict says whether the command runs, and why (or why not) in one line.
type RunVerdict struct {
	Run bool
	Why string
}

// DecideRun decides whether this node has role want now. It fails closed:
// anything that could not be read is a reason to skip.
func DecideRun(want RunRole, f RunFacts) RunVerdict {
	skip := func(format string, a ...any) RunVerdict {
		return RunVerdict{Why: fmt.Sprintf("not %s: ", want) + fmt.Sprintf(format, a...)}
	}
	switch {
	case f.CheckErr != nil:
		return skip("the check failed: %v", f.CheckErr)
	case f.StateErr != nil:
		return skip("the state cannot be read: %v", f.StateErr)
	}
	r := f.Role
	switch want {
	case RunUp:
		switch {
		case !f.Up:
			return skip("the state is drained")
		case f.Stale:
			return skip("a stale ex-primary (not eligible until `hacheck follow`)")
		}
		return RunVerdict{Run: true, Why: "up: the state is up and eligible"}
	case RunPrimary:
		switch {
		case !f.Up:
			return skip("the state is drained")
		case f.Stale:
			return skip("a stale ex-primary (its server may lack the new primary's writes)")
		case !f.VIPConfigured:
			return skip("no vip is configured: no node is the primary by holding it")
		case r.VIPError != "":
			return skip("whether this node holds the VIP is unknown: %s", r.VIPError)
		case !r.HoldsVIP:
			return skip("does not hold the VIP")
		case !f.HasDatabase:
			return RunVerdict{Run: true, Why: "primary: up and holds the VIP (no mysql.dsn: the server is not read)"}
		case r.ReadOnly == nil:
			return skip("its server cannot be read: %s", r.Error)
		case *r.ReadOnly:
			return skip("holds the VIP but its server is read-only")
		}
		return RunVerdict{Run: true, Why: "primary: up, holds the VIP, its server writable"}
	case RunReplica:
		switch {
		case !f.HasDatabase:
			return skip("no mysql.dsn: there is no server to replicate")
		case f.VIPConfigured && r.VIPError != "":
			return skip("whether this node holds the VIP is unknown: %s", r.VIPError)
		case f.VIPConfigured && r.HoldsVIP:
			return skip("holds the VIP")
		case r.ReadOnly == nil:
			return skip("its server cannot be read: %s", r.Error)
		case !*r.ReadOnly:
			return skip("its server is writable")
		case !r.Replicating:
			why := "its server does not replicate"
			if r.Error != "" {
				why += ": " + r.Error
			}
			return skip("%s", why)
		}
		return RunVerdict{Run: true, Why: "replica: read-only, replicating from " + r.Source}
	}
	return skip("unknown role")
}
