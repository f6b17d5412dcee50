package check

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// GaleraMember is what one other member of the cluster said when the drain
// asked it directly.
type GaleraMember struct {
	Addr  string // host:port from wsrep_incoming_addresses
	Facts GaleraFacts
	Err   error // could not ask it
}

// synced reports whether m is a member that can carry the cluster's
// traffic: Synced, in the Primary component, ready, not desynced, and of
// the same cluster as local (wsrep_cluster_state_uuid).
func (m GaleraMember) synced(local GaleraFacts) bool {
	f := m.Facts
	return m.Err == nil && f.Galera && f.LocalState == GaleraSynced && f.ClusterStatus == "Primary" &&
		f.Ready && !f.Desync && f.StateUUID != "" && f.StateUUID == local.StateUUID
}

// GaleraDrainVerdict decides whether this node may leave the load balancer:
// at least minSyncedOthers other members must be Synced in the Primary
// component of this cluster (see GaleraMember.synced), each as it says
// itself. This node's own state does not matter: draining a node that is
// already unfit only takes away traffic it should not have.
//
// The other members are asked directly rather than judged from this
// node's view: this node knows the size of its component
// (wsrep_cluster_size) and the members' addresses, but not whether each
// is Synced, desynced or a donor.
func GaleraDrainVerdict(local GaleraFacts, others []GaleraMember, minSyncedOthers int) (ok bool, detail string) {
	var good, bad []string
	for _, m := range others {
		switch {
		case m.synced(local):
			good = append(good, m.Addr)
		case m.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", m.Addr, m.Err))
		case m.Facts.StateUUID != local.StateUUID:
			bad = append(bad, fmt.Sprintf("%s: another cluster (state %s)", m.Addr, orUnknown(m.Facts.StateUUID)))
		default:
			_, why := GaleraVerdict(m.Facts, GaleraPolicy{ReadOnlyOK: true})
			bad = append(bad, fmt.Sprintf("%s: %s", m.Addr, why))
		}
	}
	sort.Strings(good)
	detail = fmt.Sprintf("%d other Synced member(s) in the Primary component, at least %d needed", len(good), minSyncedOthers)
	if len(good) > 0 {
		detail += " (" + strings.Join(good, ", ") + ")"
	}
	if len(bad) > 0 {
		detail += "; not counted: " + strings.Join(bad, "; ")
	}
	return len(good) >= minSyncedOthers, detail
}

// splitIncoming returns the addresses of wsrep_incoming_addresses, sorted,
// without "AUTO" (a member that could not say).
func splitIncoming(incoming string) []string {
	var out []string
	for _, a := range strings.Split(incoming, ",") {
		if a = strings.TrimSpace(a); a != "" && a != "AUTO" {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// GaleraDrain is the drain precondition of a Galera node: the rest of the
// cluster keeps at least Min other Synced members in the Primary component
// (GaleraDrainVerdict). It reads this node's facts, then asks every member
// listed in wsrep_incoming_addresses directly, with the same account, and
// leaves out the one whose wsrep_gcomm_uuid is this node's.
type GaleraDrain struct {
	Local RowQuerier
	// Open returns a handle on the member at addr (host:port) and how to
	// release it.
	Open func(addr string) (RowQuerier, func(), error)
	Min  int
}

var _ Precondition = (*GaleraDrain)(nil)

func (g *GaleraDrain) Name() string { return "galera-synced-others" }

func (g *GaleraDrain) Run(ctx context.Context, out io.Writer) Result {
	local, err := ReadGaleraFacts(ctx, g.Local)
	if err != nil {
		return Result{Detail: fmt.Sprintf("read this node's galera state: %v", err)}
	}
	if !local.Galera {
		return Result{Detail: "this server is not a Galera node (no wsrep_local_state)"}
	}
	addrs := splitIncoming(local.Incoming)
	members := make([]GaleraMember, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			m := GaleraMember{Addr: a}
			db, release, err := g.Open(a)
			if err != nil {
				m.Err = err
			} else {
				m.Facts, m.Err = ReadGaleraFacts(ctx, db)
				release()
			}
			members[i] = m
		})
	}
	wg.Wait()
	var others []GaleraMember
	for _, m := range members {
		if m.Err == nil && m.Facts.MemberUUID != "" && m.Facts.MemberUUID == local.MemberUUID {
			continue // this node
		}
		others = append(others, m)
	}
	if len(others) == len(members) && len(members) > 0 {
		// This node's own address did not answer as itself (or not at all):
		// one of those not counted may be this node.
		fmt.Fprintf(out, "  note: this node was not found among %s\n", strings.Join(addrs, ", "))
	}
	ok, detail := GaleraDrainVerdict(local, others, g.Min)
	fmt.Fprintf(out, "  %s\n", detail)
	return Result{OK: ok, Detail: detail}
}
