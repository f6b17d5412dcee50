package cutover

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// PeerServerFact is what PromoteAmong read of one peer's server.
type PeerServerFact struct {
	Name     string // the server, masked
	Err      error  // could not be read
	ServerID uint32
	Writable bool
}

// AmongPlan is how a promotion among several peers proceeds.
type AmongPlan struct {
	// Source is the peer handed to Promote (the old primary: the peer this
	// server replicates from; without a source, the first reachable peer),
	// which applies every rule of a pair to it.
	Source int
	// Others are the reachable peers besides Source: each is fenced if
	// writable and its position must be applied here first.
	Others []int
	// Refuse, when set, is why nothing may be done.
	Refuse string
}

// PlanAmong decides a promotion among several peers from what was read:
// replicating says whether this server replicates (threads not both
// stopped) and sourceID its source's server_id (0 unknown).
//
//   - replicating from a known source: the source must be one of the
//     peers. When it is a reachable one, it is the Source; when no
//     reachable peer has that server_id and some peer cannot be read, the
//     first unreadable one is handed over as the Source (Promote then
//     applies promote.unplanned to it, as for a pair whose old primary is
//     down); when every peer answers and none has it, refuse: an unknown
//     primary.
//   - otherwise: the first reachable peer is the Source (Promote checks
//     its position, and catches up or refuses as for a pair); when none is
//     reachable, the first peer (promote.unplanned decides).
//
// Every other reachable peer is in Others; an unreachable peer that is not
// the Source is skipped (it cannot be fenced or asked; the group's VIP is
// on this node, which is what makes it the rightful primary).
func PlanAmong(replicating bool, sourceID uint32, facts []PeerServerFact) AmongPlan {
	p := AmongPlan{Source: -1}
	firstBad, firstGood := -1, -1
	for i, f := range facts {
		switch {
		case f.Err != nil && firstBad < 0:
			firstBad = i
		case f.Err == nil && firstGood < 0:
			firstGood = i
		}
		if f.Err == nil && replicating && sourceID != 0 && f.ServerID == sourceID {
			p.Source = i
		}
	}
	switch {
	case p.Source >= 0:
	case replicating && sourceID != 0 && firstBad >= 0:
		p.Source = firstBad
	case replicating && sourceID != 0:
		ids := make([]string, len(facts))
		for i, f := range facts {
			ids[i] = fmt.Sprintf("%s server_id %d", f.Name, f.ServerID)
		}
		p.Refuse = fmt.Sprintf("this server replicates from server_id %d, which is none of the peers (%s): not promoting over an unknown primary", sourceID, strings.Join(ids, ", "))
		return p
	case firstGood >= 0:
		p.Source = firstGood
	default:
		p.Source = 0
	}
	for i, f := range facts {
		if i != p.Source && f.Err == nil {
			p.Others = append(p.Others, i)
		}
	}
	return p
}

// PromoteAmong is Promote for a node with several peers. It keeps every
// rule of a pair and generalises the one that matters: this server becomes
// writable only once every reachable peer's server is read-only and every
// transaction each of them has is applied here. Each reachable peer other
// than the old primary is fenced if it is writable (refused if that
// fails), its GTID position read and waited for (a replica) or, on a
// server that does not replicate and lacks it, the promotion refused as
// DIVERGED; then Promote runs with the old primary (see PlanAmong). With
// one peer or none it is Promote itself.
func PromoteAmong(ctx context.Context, local DB, peers []DB, opt PromoteOptions) (Outcome, error) {
	if len(peers) <= 1 {
		var p DB
		if len(peers) == 1 {
			p = peers[0]
		}
		return Promote(ctx, local, p, opt)
	}
	q := queryTimeout(local, opt.QueryTimeout)
	ro, err := bounded(ctx, q, local.ReadOnly)
	if err != nil {
		return Outcome{Action: ActionFailed, Detail: err.Error()}, err
	}
	st, err := bounded(ctx, q, local.ReplicaStatus)
	if err != nil {
		return Outcome{Action: ActionFailed, Detail: err.Error()}, err
	}
	replicating := st != nil && !replicaStopped(st)
	if writable(ro) && !replicating {
		return Promote(ctx, local, peers[0], opt) // already the primary: Promote says so, touching nothing
	}
	facts := make([]PeerServerFact, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			pq := queryTimeout(p, opt.PeerTimeout)
			f := PeerServerFact{Name: p.String()}
			pro, err := bounded(ctx, pq, p.ReadOnly)
			if err == nil {
				f.Writable = !pro.Fenced()
				f.ServerID, err = bounded(ctx, pq, p.ServerID)
			}
			f.Err = err
			facts[i] = f
		})
	}
	wg.Wait()
	var sourceID uint32
	if st != nil {
		sourceID = st.SourceServerID
	}
	plan := PlanAmong(replicating, sourceID, facts)
	if plan.Refuse != "" {
		return Outcome{Action: ActionRefused, Detail: plan.Refuse}, nil
	}
	var checked []string
	for _, i := range plan.Others {
		p, f := peers[i], facts[i]
		pq := queryTimeout(p, opt.PeerTimeout)
		if f.Writable {
			if err := boundedErr(ctx, opt.FenceTimeout, func(ctx context.Context) error { return p.SetReadOnly(ctx, true) }); err != nil {
				return Outcome{Action: ActionRefused, Detail: fmt.Sprintf("peer %s is writable and could not be fenced (%v): staying read-only; run `hacheck promote` once it can be fenced", p, err)}, nil
			}
		}
		pos, err := bounded(ctx, pq, p.GTIDPosition)
		if err != nil {
			return Outcome{Action: ActionRefused, Detail: fmt.Sprintf("read peer %s's GTID position: %v: staying read-only; run `hacheck promote` once it answers", p, err)}, nil
		}
		applied, err := bounded(ctx, q, func(ctx context.Context) (bool, error) { return local.HasApplied(ctx, pos) })
		if err == nil && !applied {
			if !replicating {
				lpos, _ := bounded(ctx, q, local.GTIDPosition)
				return Outcome{Action: ActionRefused, Diverged: true, Detail: fmt.Sprintf("DIVERGED: %s does not replicate, and the peer %s has transactions it lacks (peer at %q, this server at %q): staying read-only; run `hacheck follow`, then `hacheck promote`", local, p, pos, lpos)}, nil
			}
			start := time.Now()
			err = boundedErr(ctx, opt.CatchupTimeout, func(ctx context.Context) error { return local.WaitForGTID(ctx, pos, opt.CatchupTimeout) })
			if err == nil {
				applied, err = bounded(ctx, q, func(ctx context.Context) (bool, error) { return local.HasApplied(ctx, pos) })
			}
			if err == nil && applied {
				checked = append(checked, fmt.Sprintf("%s at %q applied (waited %s)", p, pos, time.Since(start).Round(time.Millisecond)))
				continue
			}
		}
		if err != nil || !applied {
			why := "its applied set does not contain it"
			if err != nil {
				why = err.Error()
			}
			return Outcome{Action: ActionRefused, Detail: fmt.Sprintf("%s has not applied peer %s's position %q (%s): staying read-only; run `hacheck promote` again once it has (serve retries it)", local, p, pos, why)}, nil
		}
		checked = append(checked, fmt.Sprintf("%s at %q applied", p, pos))
	}
	out, err := Promote(ctx, local, peers[plan.Source], opt)
	if len(checked) > 0 {
		out.Detail += "; the other peers are read-only and applied here: " + strings.Join(checked, ", ")
	}
	return out, err
}
