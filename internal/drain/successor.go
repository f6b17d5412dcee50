package drain

import (
	"fmt"
	"slices"
	"strings"
)

// Candidate is what a drain among several nodes learned of one peer before
// it chose the successor: every field is a fact, read once; Choose
// judges them.
type Candidate struct {
	Name string
	// Unreachable says why the peer's hacheck or server could not be
	// read; "" when both answered.
	Unreachable string
	// ReportedName is the node name the peer's /status gave: it must be
	// Name (a peers: entry pointing at the wrong node is refused).
	ReportedName string
	State        string // "up", "drained", "" when unusable
	Healthy      bool
	Reason       string // the peer's own verdict, as its /status says
	Held         string // the peer is held for another move ("" when not)
	// Replica: the peer's server replicates from this one, IO and SQL
	// running, by GTID; ReplicaDetail says what it is when not.
	Replica       bool
	ReplicaDetail string
	// Position is the peer's applied GTID position; Missing how many of
	// this server's transactions it lacks (-1 unknown).
	Position string
	Missing  int64
	// Priority and Nopreempt are the peer's keepalived settings, as its
	// /status reports them; KeepalivedKnown is false when it reports none.
	Priority        int
	Nopreempt       bool
	KeepalivedKnown bool
}

// ready says why c cannot take over now; "" when it can.
func (c Candidate) ready() string {
	switch {
	case c.Unreachable != "":
		return fmt.Sprintf("%s cannot be reached: %s", c.Name, c.Unreachable)
	case c.ReportedName != c.Name:
		return fmt.Sprintf("%s's url answers as node %q: fix peers[].url or peers[].name", c.Name, c.ReportedName)
	case c.Held != "":
		return fmt.Sprintf("%s is %s", c.Name, c.Held)
	case c.State != "up":
		return fmt.Sprintf("%s is %q, not up: %s", c.Name, c.State, c.Reason)
	case !c.Healthy:
		return fmt.Sprintf("%s is up but not healthy: %s", c.Name, c.Reason)
	case !c.Replica:
		return fmt.Sprintf("%s is not a running GTID replica of this server: %s", c.Name, c.ReplicaDetail)
	}
	return ""
}

// preempts says why, once released, other would take the VIP back from
// succ: keepalived without nopreempt lets a higher priority preempt the
// master. "" when it would not.
func preempts(other, succ Candidate) string {
	switch {
	case other.Unreachable != "":
		return fmt.Sprintf("%s cannot be reached (%s): it cannot be held out of the election", other.Name, other.Unreachable)
	case other.ReportedName != other.Name:
		return fmt.Sprintf("%s's url answers as node %q: fix peers[].url or peers[].name (the wrong node would be held)", other.Name, other.ReportedName)
	case other.State != "up":
		return "" // drained or unusable: not eligible once released either
	case other.KeepalivedKnown && other.Nopreempt:
		return ""
	case !other.KeepalivedKnown:
		return fmt.Sprintf("%s reports no keepalived settings (keepalived.config), so whether it would take the VIP back from %s once released is unknown", other.Name, succ.Name)
	case !succ.KeepalivedKnown:
		return fmt.Sprintf("%s reports no keepalived settings (keepalived.config), and %s has no nopreempt: %s might take the VIP back from it once released", succ.Name, other.Name, other.Name)
	case other.Priority >= succ.Priority:
		return fmt.Sprintf("%s (priority %d, no nopreempt) would take the VIP back from %s (priority %d) once released: set nopreempt on every node, or move to the higher priority", other.Name, other.Priority, succ.Name, succ.Priority)
	}
	return ""
}

// Choice is the successor of a drain among several nodes, with the words
// of the `successor:` line.
type Choice struct {
	Name string
	Why  string
}

// Line is the line a drain prints: "successor: NAME (WHY)".
func (c Choice) Line() string { return fmt.Sprintf("successor: %s (%s)", c.Name, c.Why) }

// ErrNoSuccessor wraps every refusal of Choose.
var ErrNoSuccessor = fmt.Errorf("no successor")

// Choose picks the node a drain among several nodes moves the primary to.
// With to set, that node, when it is ready (reachable, answering as its
// name, up, healthy, not held, a running GTID replica of this server) and
// no other node would preempt it once released (see preempts). Without
// to, the most up-to-date ready node (fewest missing transactions), then
// the highest keepalived priority, then the first name, among those no
// other node would preempt. The refusal names every reason.
func Choose(cands []Candidate, to string) (Choice, error) {
	if to != "" {
		i := slices.IndexFunc(cands, func(c Candidate) bool { return c.Name == to })
		if i < 0 {
			names := make([]string, len(cands))
			for j, c := range cands {
				names[j] = c.Name
			}
			return Choice{}, fmt.Errorf("%w: unknown successor %q: the peers are %s", ErrNoSuccessor, to, strings.Join(names, ", "))
		}
		succ := cands[i]
		if why := succ.ready(); why != "" {
			return Choice{}, fmt.Errorf("%w: %s", ErrNoSuccessor, why)
		}
		if why := preemptedBy(cands, succ); why != "" {
			return Choice{}, fmt.Errorf("%w: %s", ErrNoSuccessor, why)
		}
		return Choice{Name: to, Why: "chosen with --to"}, nil
	}
	var ok []Candidate
	var refused []string
	for _, c := range cands {
		if why := c.ready(); why != "" {
			refused = append(refused, why)
			continue
		}
		if why := preemptedBy(cands, c); why != "" {
			refused = append(refused, why)
			continue
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		return Choice{}, fmt.Errorf("%w: no peer can take over: %s", ErrNoSuccessor, strings.Join(refused, "; "))
	}
	slices.SortStableFunc(ok, func(a, b Candidate) int {
		switch ma, mb := missingKey(a), missingKey(b); {
		case ma != mb:
			return compare(ma, mb)
		case a.Priority != b.Priority:
			return compare(b.Priority, a.Priority)
		}
		return strings.Compare(a.Name, b.Name)
	})
	best := ok[0]
	if len(ok) == 1 {
		why := "the only peer that can take over"
		if len(refused) > 0 {
			why += "; " + strings.Join(refused, "; ")
		}
		return Choice{Name: best.Name, Why: why}, nil
	}
	next := ok[1]
	var why string
	switch {
	case missingKey(best) != missingKey(next):
		why = fmt.Sprintf("most up to date: %s; %s lacks %d transactions", best.Position, next.Name, next.Missing-max(best.Missing, 0))
	case best.Priority != next.Priority:
		why = fmt.Sprintf("as up to date as %s (%s), higher keepalived priority %d > %d", next.Name, best.Position, best.Priority, next.Priority)
	default:
		why = fmt.Sprintf("as up to date as %s (%s), same priority: first by name", next.Name, best.Position)
	}
	return Choice{Name: best.Name, Why: why}, nil
}

// preemptedBy says why some other candidate would take the VIP back from
// succ once released; "" when none would.
func preemptedBy(cands []Candidate, succ Candidate) string {
	var why []string
	for _, o := range cands {
		if o.Name == succ.Name {
			continue
		}
		if w := preempts(o, succ); w != "" {
			why = append(why, w)
		}
	}
	return strings.Join(why, "; ")
}

// missingKey orders unknown lag after every known one.
func missingKey(c Candidate) int64 {
	if c.Missing < 0 {
		return 1 << 62
	}
	return c.Missing
}

func compare[T int | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
