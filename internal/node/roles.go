package node

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// stateRoles records role changes of this node's server in the state: a
// server that lost the primary role other than through a completed drain
// is marked a stale ex-primary (not eligible for the VIP until it
// follows); a promoted server has every transaction the peer had, so the
// mark is cleared.
type stateRoles struct {
	store state.Store
	// local is this node's server: one that replicates (both threads
	// running) follows someone and lacks nothing, so it is not marked.
	local interface {
		ReplicaStatus(context.Context) (*db.ReplicaStatus, error)
	}
	timeout time.Duration
	log     *slog.Logger
}

var _ cutover.RoleRecorder = stateRoles{}

func (r stateRoles) LostPrimary(why string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	st, err := r.local.ReplicaStatus(ctx)
	cancel()
	if err == nil && st != nil && st.IOThreadRunning() && st.SQLThreadRunning() {
		r.log.Info("a writable replica was fenced; it replicates, so it is not a stale ex-primary", "source", st.Source(), "why", why)
		return
	}
	marked, err := r.store.MarkStale(why)
	switch {
	case err != nil:
		r.log.Warn("could not mark this node a stale ex-primary", "why", why, "err", err)
	case marked:
		r.log.Warn("stale ex-primary: this node is not eligible for the VIP until it follows the new primary (`hacheck follow`)", "why", why)
	}
}

func (r stateRoles) BecamePrimary(how string) {
	cleared, err := r.store.ClearStale("promoted: "+how, "")
	switch {
	case err != nil:
		r.log.Warn("could not clear the stale ex-primary mark", "err", err)
	case cleared:
		r.log.Info("stale ex-primary mark cleared: promoted with every transaction of the peer", "how", how)
	}
}

func (n *Node) roles() cutover.RoleRecorder {
	return stateRoles{store: n.store, local: n.local, timeout: n.cfg.MySQL.QueryTimeout, log: n.log}
}

// Role reads, now, what this node's server is doing (see health.Role).
// Every read is bounded by mysql.query_timeout within ctx; the peer's
// server is pinged only when this node holds the VIP and is read-only, to
// name the safe command.
func (n *Node) Role(ctx context.Context) health.Role { return n.role(ctx, true) }

// role is Role; without explain it skips what only words the role for a
// person (the last decision, the peer's ping): the reconciler's look, which
// the VIP's arrival wakes, then goes straight to the promotion.
func (n *Node) role(ctx context.Context, explain bool) health.Role {
	f := health.RoleFacts{At: time.Now().UTC(), VIPConfigured: n.cfg.VIP.Configured(), PeerConfigured: n.peerDB != nil || n.multi()}
	if f.VIPConfigured {
		f.HoldsVIP, f.VIPErr = n.vipHeld()
	}
	if st, err := n.store.Load(); err == nil {
		f.Stale = st.Stale != nil
	}
	if n.local == nil {
		f.ReadErr = ErrNoDatabase
		return health.DecideRole(f)
	}
	q := n.cfg.MySQL.QueryTimeout
	qctx, cancel := context.WithTimeout(ctx, q)
	ro, err := n.local.ReadOnly(qctx)
	cancel()
	f.ReadOnly, f.ReadErr = ro.Fenced(), err
	qctx, cancel = context.WithTimeout(ctx, q)
	rs, err := n.local.ReplicaStatus(qctx)
	cancel()
	f.ReplicaErr = err
	if rs != nil {
		f.Replicating = rs.IOThreadRunning() && rs.SQLThreadRunning() && rs.LastSQLErrno == 0
		f.Source, f.SecondsBehind = rs.Source(), rs.SecondsBehind
	}
	if explain && f.HoldsVIP && (f.ReadOnly || f.ReadErr != nil) {
		if m := n.MySQLStatus(); m != nil {
			f.LastDecision = m.Action + ": " + m.Detail
		}
		if n.peerDB != nil {
			qctx, cancel = context.WithTimeout(ctx, n.cfg.Peer.Timeout)
			answers := n.peerDB.Alive(qctx) == nil
			cancel()
			f.PeerAnswers = &answers
		}
	}
	return health.DecideRole(f)
}

// Reconcile backoff: a refused promotion is retried after reconcileMin,
// then twice as long each time, at most reconcileMax; an idle look at the
// role comes every reconcileMin.
const (
	reconcileMin = 500 * time.Millisecond
	reconcileMax = 4 * time.Second
)

// Reconciler is serve's background repair of the node's database role,
// run in a loop: each Step returns how long to wait before the next.
//
//   - This node holds the VIP, its state is up, no drain runs, and its
//     server is read-only (the VIP has just arrived: serve is woken by the
//     address change, see vipChanges; or a refused promotion: the old
//     primary was down, hanging or cut off): try the safe `hacheck
//     promote`, again with backoff after a refusal. It promotes as soon as the old primary answers and is
//     fenced and applied (or the peer's writes are caught up), and
//     refuses again otherwise; --force is never used.
//   - This node does not hold the VIP, its server is writable, and the
//     last notify decision was a fence that did not land (the server hung
//     or was frozen when keepalived took the VIP away): fence it now,
//     without waiting for notify's next retry or the guard's next run.
//   - This node is a stale ex-primary, does not hold the VIP, and the
//     peer's server is a writable primary: follow it (`hacheck follow`),
//     which clears the mark when replication runs.
type Reconciler struct {
	n       *Node
	backoff time.Duration
	// retries counts promotion attempts; followed counts follows done.
	retries, followed atomic.Uint64
}

// Stats reports how many promotions were retried and how many follows
// were done.
func (r *Reconciler) Stats() (retries, followed uint64) { return r.retries.Load(), r.followed.Load() }

// Reconciler returns the node's reconciler; nil without a database.
func (n *Node) Reconciler() *Reconciler {
	if n.local == nil {
		return nil
	}
	return &Reconciler{n: n}
}

// Step looks once and repairs what it can; it returns when to look again.
func (r *Reconciler) Step(ctx context.Context) time.Duration {
	n := r.n
	st, err := n.store.Load()
	if err != nil {
		return reconcileMin
	}
	role := n.role(ctx, false)
	switch {
	// Eligible, not merely up: a held node or a stale ex-primary that sees
	// the VIP is never promoted by serve (keepalived should have it in
	// FAULT; this does not rely on it).
	case st.Eligible() && role.HoldsVIP && role.ReadOnly != nil && *role.ReadOnly:
		return r.retryPromotion(ctx)
	case !role.HoldsVIP && role.VIPError == "" && role.ReadOnly != nil && !*role.ReadOnly:
		r.finishFence(ctx)
	case st.Stale != nil && !role.HoldsVIP && role.VIPError == "" && !role.Replicating:
		r.follow(ctx)
	}
	r.backoff = 0
	return reconcileMin
}

func (r *Reconciler) retryPromotion(ctx context.Context) time.Duration {
	n := r.n
	// A drain holds the operation lock from its fence to its flip: the
	// primary is read-only with the VIP on purpose then.
	lctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	release, err := n.store.OpLock(lctx)
	cancel()
	if err != nil {
		return reconcileMin
	}
	defer release()
	nt, err := n.Notifier()
	if err != nil {
		return reconcileMax
	}
	r.retries.Add(1)
	pctx, pcancel := context.WithTimeout(ctx, n.NotifyBudget())
	rec, err := nt.PromoteNow(pctx, false, time.Now())
	pcancel()
	if err == nil {
		n.log.Info("serve: promoted: this node holds the VIP and its server was read-only (the VIP just arrived, or an earlier promotion was refused)", "attempt", r.retries.Load(), "detail", rec.Detail)
		r.backoff = 0
		return reconcileMin
	}
	r.backoff = min(max(2*r.backoff, reconcileMin), reconcileMax)
	n.log.Warn("serve: promotion still refused; trying again", "retry_in", r.backoff, "detail", rec.Detail, "err", err)
	return r.backoff
}

// finishFence fences a writable server without the VIP when notify decided
// to fence it and could not (notify.json: a pending fence).
func (r *Reconciler) finishFence(ctx context.Context) {
	n := r.n
	rec, ok, err := cutover.LoadRecord(n.cfg.StateDir)
	if err != nil || !ok || !rec.FencePending {
		return // the split-brain guard judges any other writable server
	}
	out, err := cutover.Demote(ctx, n.local, n.cfg.MySQL.FenceTimeout)
	if err != nil {
		n.log.Warn("serve: notify's pending fence still fails", "err", err)
		return
	}
	_ = cutover.SettlePendingFence(n.cfg.StateDir, rec.Seq, "fenced by serve (notify's fence had not landed)", 100*time.Millisecond)
	if out.WasWritable {
		n.roles().LostPrimary("notify's pending fence, finished by serve: " + rec.Detail)
	}
	n.log.Warn("serve: fenced this server: notify's fence had not landed and this node does not hold the VIP", "detail", out.Detail)
}

func (r *Reconciler) follow(ctx context.Context) {
	n := r.n
	if n.multi() && n.cfg.Replication.User == "" {
		return
	}
	if _, err := n.followOptions(); err != nil && !n.multi() {
		return // status says to run `hacheck follow`; it will say what is missing
	}
	fctx, cancel := context.WithTimeout(ctx, n.cfg.Drain.Timeout)
	defer cancel()
	if err := n.Follow(fctx, 0, io.Discard); err != nil {
		n.log.Debug("serve: stale ex-primary cannot follow the peer yet", "err", err)
		return
	}
	r.followed.Add(1)
	n.log.Info("serve: stale ex-primary now follows the new primary; eligible again")
}

// vipChanges wakes serve's reconciler when the VIP is added to or removed
// from this node: the VIP arriving on a read-only standby whose state is
// up is the reconciler's first case, so the promotion (the same `hacheck
// promote` path as notify's MASTER, every rule of it) starts from serve's
// open pools within milliseconds, instead of waiting for keepalived to
// fork notify and for notify to start and dial. notify's MASTER then finds
// the server already writable. nil (the interval alone) when the
// subscription cannot be made.
func (n *Node) vipChanges(ctx context.Context) <-chan struct{} {
	ch, err := vip.Changes(ctx, n.cfg.VIP.Interface, n.cfg.VIP.Address.Addr())
	if err != nil {
		n.log.Warn("serve: cannot watch the VIP; a promotion waits for notify or the next reconcile", "err", err)
		return nil
	}
	return ch
}
