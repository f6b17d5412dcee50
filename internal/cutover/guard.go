package cutover

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
)

// GuardFacts is what SplitBrainGuard gathered; evaluateGuard judges it.
// The zero value of each peer fact means "not learned".
type GuardFacts struct {
	ReadOnly   db.ReadOnlyState
	ReadErr    error
	VIPHeld    bool
	VIPErr     error
	Peer       health.Report // the peer's /status
	PeerErr    error         // includes "peer.url is not set"
	PeerServer string
	// PeerDB is the peer's server (peer.mysql_dsn) as read, when
	// PeerDBAsked and PeerDBErr is nil.
	PeerDB      db.ReadOnlyState
	PeerDBErr   error
	PeerDBAsked bool
	// PeerAhead: the peer's server has transactions this one lacks (its
	// GTID position is not contained in ours); PeerAheadErr when that
	// could not be compared. Read with PeerDB.
	PeerAhead    bool
	PeerAheadErr error
	// FencePending: notify decided to fence this server and the fence did
	// not land (Record.FencePending).
	FencePending bool
	// NoVIP: no VIP is configured; only a pending fence is enforced.
	NoVIP bool
}

// guardVerdict is what the guard concludes.
type guardVerdict struct {
	OK     bool
	Fence  bool // fence this server now
	Detail string
}

// evaluateGuard decides the split-brain guard. Writes reach the server
// that holds the VIP, so a writable server is only right there:
//
//   - read-only: fine, never a write target.
//   - writable and this node holds the VIP: fine.
//   - writable, and notify's fence of it failed (FencePending), on a node
//     that does not hold the VIP or cannot tell: unhealthy, fenced.
//   - writable, and whether this node holds the VIP is unknown:
//     unhealthy, not fenced.
//   - writable without the VIP, then by what is known of the peer (its
//     hacheck's /status, and its server read on peer.mysql_dsn):
//     the peer holds the VIP: SPLIT BRAIN, unhealthy, fenced;
//     the peer's server is writable (a known primary): unhealthy, fenced
//     (the VIP, wherever it goes, promotes its holder through notify);
//     it is positively known that no node holds the VIP and the peer's
//     server is read-only: healthy, bootstrap (this primary is the
//     rightful claimant and must be able to take the VIP), but only when
//     the peer's server has no transaction this one lacks; if it has,
//     this is a stale ex-primary: unhealthy, fenced; if that cannot be
//     compared, unhealthy, not fenced;
//     anything else unknown (peer hacheck down, slow, reporting no VIP;
//     peer server unreachable or peer.mysql_dsn unset): unhealthy, not
//     fenced (it may be the only primary left, but a writable server
//     without the VIP is not healthy).
func evaluateGuard(f GuardFacts) guardVerdict {
	switch {
	case f.ReadErr != nil:
		return guardVerdict{Detail: f.ReadErr.Error()}
	case f.ReadOnly.Fenced():
		return guardVerdict{OK: true, Detail: fmt.Sprintf("read-only (%s): not a write target", f.ReadOnly)}
	case f.NoVIP && f.FencePending:
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("writable (%s), and notify's fence of it failed (no VIP configured)", f.ReadOnly)}
	case f.NoVIP:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s); no VIP configured: only a fence that notify could not apply is enforced", f.ReadOnly)}
	case f.FencePending && (f.VIPErr != nil || !f.VIPHeld):
		where := "without the VIP"
		if f.VIPErr != nil {
			where = fmt.Sprintf("and whether this node holds the VIP is unknown (%v)", f.VIPErr)
		}
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("writable (%s) %s, and notify's fence of it failed", f.ReadOnly, where)}
	case f.VIPErr != nil:
		return guardVerdict{Detail: fmt.Sprintf("writable (%s) and whether this node holds the VIP is unknown: %v", f.ReadOnly, f.VIPErr)}
	case f.VIPHeld:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s) and this node holds the VIP", f.ReadOnly)}
	}

	var held, known bool
	var peerView string
	if f.PeerErr != nil {
		peerView = fmt.Sprintf("whether the peer holds the VIP is unknown (%v)", f.PeerErr)
	} else if held, known = f.Peer.HoldsVIP(); !known {
		peerView = fmt.Sprintf("peer %s does not report the VIP", f.Peer.Node)
	}
	peerDB := "the peer's server"
	if f.PeerServer != "" {
		peerDB += " " + f.PeerServer
	}
	var dbView string
	dbKnown := f.PeerDBAsked && f.PeerDBErr == nil
	switch {
	case !f.PeerDBAsked:
		dbView = peerDB + " was not read (peer.mysql_dsn is not set)"
	case f.PeerDBErr != nil:
		dbView = fmt.Sprintf("%s cannot be read (%v)", peerDB, f.PeerDBErr)
	case f.PeerDB.Fenced():
		dbView = fmt.Sprintf("%s is read-only (%s)", peerDB, f.PeerDB)
	default:
		dbView = fmt.Sprintf("%s is writable (%s)", peerDB, f.PeerDB)
	}

	switch {
	case known && held:
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("SPLIT BRAIN: writable (%s) while peer %s holds the VIP", f.ReadOnly, f.Peer.Node)}
	case dbKnown && !f.PeerDB.Fenced():
		why := peerView
		if known {
			why = "no node holds the VIP"
		}
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("SPLIT BRAIN: writable (%s) without the VIP while %s; %s", f.ReadOnly, dbView, why)}
	case known && dbKnown && f.PeerAheadErr != nil:
		return guardVerdict{Detail: fmt.Sprintf("writable (%s); no node holds the VIP and %s, but whether it has transactions this server lacks is unknown (%v): not healthy", f.ReadOnly, dbView, f.PeerAheadErr)}
	case known && dbKnown && f.PeerAhead:
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("STALE EX-PRIMARY: writable (%s) without the VIP, and %s but has transactions this server lacks", f.ReadOnly, dbView)}
	case known && dbKnown:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s); no node holds the VIP yet and %s with nothing this server lacks: this primary is the rightful claimant", f.ReadOnly, dbView)}
	}
	why := dbView
	if !known {
		why = peerView + "; " + dbView
	}
	return guardVerdict{Detail: fmt.Sprintf("writable (%s) without the VIP, and %s: not fencing on what is unknown, but a writable server without the VIP is not healthy", f.ReadOnly, why)}
}

// Guard timing.
const (
	// defaultGuardBudget is the guard's budget when neither its context
	// nor Budget sets one (check_timeout's default).
	defaultGuardBudget = 2 * time.Second
	// guardMargin is kept at the end of the budget to report in.
	guardMargin = 100 * time.Millisecond
	// minGuardReads is the least time for the reads that still leaves the
	// rest for a fence; with less, the reads get half the budget and a
	// fence is reported as not attempted.
	minGuardReads = 100 * time.Millisecond
)

// SplitBrainGuard is the live check that runs automatically when mysql.dsn
// is configured (see evaluateGuard for what passes). It never makes a
// server writable.
//
// Its whole run fits in Budget (check_timeout) and in its context's
// deadline, whichever ends first, a fence included: the reads (this
// server, the VIP, the peer's /status and the peer's server, the two peer
// reads at once) get what is left after keeping FenceBudget for a fence,
// and a fence starts only if most of FenceBudget is still left (the
// server's lock wait is whole seconds, at least 1 s). When it cannot start, or
// when the server does not answer in time, the result says the fence was
// not attempted or that its outcome is unknown, never that it failed.
type SplitBrainGuard struct {
	Local    DB
	Peer     DB     // peer.mysql_dsn; nil when not set
	StateDir string // where notify records a fence that failed ("": none)
	// Held says whether this node holds the VIP; nil: no VIP configured.
	Held func() (bool, error)
	// PeerStatus reads the peer's hacheck (peer.url, bounded by
	// peer.timeout); it also fits the read budget.
	PeerStatus func(context.Context) (health.Report, error)
	Budget     time.Duration // check_timeout; default 2s
	// FenceBudget is kept for a fence; default db.MinFenceTimeout (1.5s).
	FenceBudget time.Duration
	// Roles, when set, is told when the guard fences a writable server.
	Roles RoleRecorder
	// Peers, for a node with several peers (peers:), replaces Peer and
	// PeerStatus: every one is asked, and what they say is merged
	// (mergePeerFacts) before the same rule applies.
	Peers []GuardPeer
}

var _ check.Checker = (*SplitBrainGuard)(nil)

func (g *SplitBrainGuard) Name() string { return "mysql-split-brain" }

// deadlines returns when the guard must be done (end), when its reads must
// be (reads: FenceBudget before end), and the least time left in which a
// fence may start (5/6 of FenceBudget: 1.25s by default, room for the
// server's 1s lock wait and the statements around it; the difference
// absorbs scheduling delays between the reads and the fence).
func (g *SplitBrainGuard) deadlines(ctx context.Context, start time.Time) (end, reads time.Time, fenceStart time.Duration) {
	budget := g.Budget
	if budget <= 0 {
		budget = defaultGuardBudget
	}
	end = start.Add(budget)
	if dl, ok := ctx.Deadline(); ok && dl.Before(end) {
		end = dl
	}
	end = end.Add(-min(guardMargin, end.Sub(start)/10))
	fence := g.FenceBudget
	if fence <= 0 {
		fence = db.MinFenceTimeout
	}
	reads = end.Add(-fence)
	if reads.Before(start.Add(minGuardReads)) {
		reads = start.Add(end.Sub(start) / 2) // no room for a fence anyway: reads get half
	}
	return end, reads, fence * 5 / 6
}

func (g *SplitBrainGuard) Check(ctx context.Context) check.Result {
	end, readsEnd, fenceStart := g.deadlines(ctx, time.Now())
	rctx, cancel := context.WithDeadline(ctx, readsEnd)
	defer cancel()

	var f GuardFacts
	var pendingSeq uint64
	if g.StateDir != "" {
		if r, ok, err := LoadRecord(g.StateDir); err == nil && ok && r.FencePending {
			f.FencePending, pendingSeq = true, r.Seq
		}
	}
	f.ReadOnly, f.ReadErr = g.Local.ReadOnly(rctx)
	if f.ReadErr == nil && f.ReadOnly.Fenced() && f.FencePending {
		g.settle(pendingSeq, "the split-brain guard found the server read-only")
	}
	f.NoVIP = g.Held == nil
	if f.ReadErr == nil && !f.ReadOnly.Fenced() && !f.NoVIP {
		f.VIPHeld, f.VIPErr = g.Held()
		if f.VIPErr == nil && !f.VIPHeld && !f.FencePending {
			g.askPeer(rctx, &f)
		}
	}
	v := evaluateGuard(f)
	if !v.Fence {
		return check.Result{OK: v.OK, Detail: v.Detail}
	}
	left := time.Until(end)
	if left < fenceStart {
		return check.Result{Detail: fmt.Sprintf("%s; fence not attempted: %s of the check's budget left, a fence needs %s (raise check_timeout)",
			v.Detail, left.Round(time.Millisecond), fenceStart)}
	}
	fctx, fcancel := context.WithDeadline(ctx, end)
	defer fcancel()
	if err := g.Local.SetReadOnly(fctx, true); err != nil {
		if fctx.Err() != nil {
			return check.Result{Detail: fmt.Sprintf("%s; fence outcome unknown: no answer within the check's budget (the statement may still complete on the server): %v", v.Detail, err)}
		}
		return check.Result{Detail: v.Detail + "; FENCING FAILED: " + err.Error()}
	}
	if f.FencePending {
		g.settle(pendingSeq, "fenced by the split-brain guard")
	}
	if g.Roles != nil {
		g.Roles.LostPrimary("fenced by the split-brain guard: " + v.Detail)
	}
	return check.Result{Detail: v.Detail + "; fenced it: now read-only"}
}

// askPeer reads the peer's /status and its server at once, both within
// ctx (the read budget).
func (g *SplitBrainGuard) askPeer(ctx context.Context, f *GuardFacts) {
	if len(g.Peers) > 0 {
		askPeers(ctx, g.Local, g.Peers, f)
		return
	}
	var wg sync.WaitGroup
	if g.Peer != nil {
		f.PeerDBAsked, f.PeerServer = true, g.Peer.String()
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.PeerDB, f.PeerDBErr = g.Peer.ReadOnly(ctx)
			if f.PeerDBErr == nil {
				f.PeerAhead, f.PeerAheadErr = peerAhead(ctx, g.Local, g.Peer)
			}
		}()
	}
	if g.PeerStatus == nil {
		f.PeerErr = errors.New("peer.url is not set")
	} else {
		f.Peer, f.PeerErr = g.PeerStatus(ctx)
	}
	wg.Wait()
}

// settle marks notify's pending fence done; best effort (a notify that
// holds the lock writes a newer record anyway).
func (g *SplitBrainGuard) settle(seq uint64, how string) {
	_ = SettlePendingFence(g.StateDir, seq, how, 50*time.Millisecond)
}

// PrepareStandby runs before `undrain` marks the node up. It applies the
// split-brain guard's rule once: a writable server on a node without the
// VIP while the peer holds it, or while the peer's server (peerDB, nil
// when not configured) is writable or has transactions this one lacks, is
// made read-only (fenced reports that: the node then is a stale
// ex-primary); a writable server when no node holds the VIP and the peer's
// server lacks nothing (bootstrap), or when that cannot be learned, is
// left writable, as the rightful claimant; a node that holds the VIP is
// left as it is. The peer is asked only when needed. It returns what it
// found or did.
func PrepareStandby(ctx context.Context, local, peerDB DB, holdsVIP bool, peer func(context.Context) (health.Report, error), timeout time.Duration) (what string, fenced bool, err error) {
	return prepareStandby(ctx, local, peerDB, nil, holdsVIP, peer, timeout)
}

// PrepareStandbyAmong is PrepareStandby for a node with several peers:
// every peer is asked and what they say is merged, as the guard does.
func PrepareStandbyAmong(ctx context.Context, local DB, peers []GuardPeer, holdsVIP bool, timeout time.Duration) (what string, fenced bool, err error) {
	return prepareStandby(ctx, local, nil, peers, holdsVIP, nil, timeout)
}

func prepareStandby(ctx context.Context, local, peerDB DB, peers []GuardPeer, holdsVIP bool, peer func(context.Context) (health.Report, error), timeout time.Duration) (what string, fenced bool, err error) {
	f := GuardFacts{VIPHeld: holdsVIP}
	q := queryTimeout(local, 0)
	f.ReadOnly, f.ReadErr = bounded(ctx, q, local.ReadOnly)
	if f.ReadErr != nil {
		return "", false, f.ReadErr
	}
	if !f.ReadOnly.Fenced() && !holdsVIP && len(peers) > 0 {
		pctx, cancel := withTimeout(ctx, 3*q)
		askPeers(pctx, local, peers, &f)
		cancel()
	} else if !f.ReadOnly.Fenced() && !holdsVIP {
		f.Peer, f.PeerErr = peer(ctx)
		if peerDB != nil {
			f.PeerDBAsked, f.PeerServer = true, peerDB.String()
			f.PeerDB, f.PeerDBErr = bounded(ctx, queryTimeout(peerDB, 0), peerDB.ReadOnly)
			if f.PeerDBErr == nil {
				f.PeerAhead, f.PeerAheadErr = bounded(ctx, 2*q, func(ctx context.Context) (bool, error) { return peerAhead(ctx, local, peerDB) })
			}
		}
	}
	v := evaluateGuard(f)
	if !v.Fence {
		return fmt.Sprintf("%s: %s", local, v.Detail), false, nil
	}
	fctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	if err := local.SetReadOnly(fctx, true); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("%s: %s; made it read-only", local, v.Detail), true, nil
}

// peerAhead reports whether peer's server has transactions that local
// lacks: its GTID position is not contained in what local has applied
// (MariaDB: per domain, by sequence number; MySQL: GTID_SUBSET).
func peerAhead(ctx context.Context, local, peer DB) (bool, error) {
	pos, err := peer.GTIDPosition(ctx)
	if err != nil {
		return false, err
	}
	has, err := local.HasApplied(ctx, pos)
	if err != nil {
		return false, err
	}
	return !has, nil
}
