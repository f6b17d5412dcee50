package cutover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// VIPView is what notify knows about the VIP: Known is false when no VIP
// is configured (the event's state is then the authority).
type VIPView struct {
	Known bool
	Held  bool
	Err   error
}

// notifyPlan is what decideNotify decided.
type notifyPlan int

const (
	planPromote notifyPlan = iota
	planFence
	planIgnore
)

// decideNotify decides what an event does, from the event, the last
// applied record and the VIP as it is now. The rule: a node without the
// VIP is never writable, so staleness may suppress a promotion or a no-op,
// never a fence.
//
// An event is stale when its stamp is older than the last applied one (same
// boot, CLOCK_BOOTTIME; see Stamp). "Newer promotion" means the last
// applied record is stale-newer than the event and was a promotion
// (Plan promote: a MASTER on a node that held the VIP, or promote by hand).
//
//		VIP now        | MASTER             | BACKUP, FAULT, STOP
//		---------------+--------------------+----------------------------------
//		not held       | fence              | fence
//		unreadable     | fence              | fence
//		held           | promote; ignore if | fence; ignore if a newer
//		               | stale              | promotion was applied
//		not configured | promote; ignore if | fence
//		               | stale              |
//
//	  - Not held or unreadable: fence, whatever the event says and however
//	    stale it is. A MASTER that finds the VIP gone was followed by a
//	    newer transition; a stale BACKUP after a newer MASTER that finds the
//	    VIP gone is still right: the newer MASTER is no longer the truth.
//	  - Held, MASTER: promote; a stale MASTER is ignored (a newer event was
//	    applied after it; if the VIP came back since, the newer MASTER that
//	    keepalived notifies after adding it promotes).
//	  - Held, BACKUP/FAULT/STOP: keepalived removes the VIP before it
//	    notifies these, so the VIP was added again by a newer MASTER. If that
//	    MASTER's promotion is already applied, this event is stale: ignored,
//	    so the primary that holds the VIP keeps taking writes. Otherwise the
//	    newer MASTER has not been applied yet: fence now (fail closed); that
//	    MASTER, which keepalived always notifies, promotes again.
//	  - No VIP configured: the event is the only authority. MASTER promotes
//	    unless stale; BACKUP/FAULT/STOP always fence (without a VIP to look
//	    at, a late fence is the safe mistake).
func decideNotify(ev Event, last Record, haveLast bool, v VIPView) (notifyPlan, string) {
	stale := haveLast && ev.Stamp.OlderThan(last.Stamp)
	staleWhy := func() string {
		return fmt.Sprintf("%s started %s before the last applied %s event (seq %d)",
			ev.State, (last.Stamp.Boottime - ev.Stamp.Boottime).Round(time.Microsecond), last.Event, last.Seq)
	}
	master := ev.State == "MASTER"
	switch {
	case v.Known && v.Err != nil:
		return planFence, fmt.Sprintf("%s, and whether this node holds the VIP is unknown (%v): a node that may not hold the VIP never takes writes", ev.State, v.Err)
	case v.Known && !v.Held:
		if master {
			return planFence, "MASTER, but this node does not hold the VIP (a newer transition followed): a node without the VIP never takes writes"
		}
		if stale {
			return planFence, fmt.Sprintf("%s (stale: %s), and this node does not hold the VIP: fencing all the same, a node without the VIP never takes writes", ev.State, staleWhy())
		}
		return planFence, ev.State + " and this node does not hold the VIP"
	case master && stale:
		return planIgnore, fmt.Sprintf("stale MASTER: %s; not promoting", staleWhy())
	case master && !v.Known:
		return planPromote, "MASTER (no VIP configured: the event is the authority)"
	case master:
		return planPromote, "MASTER and this node holds the VIP"
	case !v.Known:
		return planFence, ev.State + " (no VIP configured: the event is the authority)"
	case stale && last.Plan == PlanPromote:
		return planIgnore, fmt.Sprintf("stale %s: %s, a promotion, and this node holds the VIP; not fencing the primary", ev.State, staleWhy())
	}
	return planFence, fmt.Sprintf("%s while this node holds the VIP, and no newer promotion was applied: fencing (the MASTER that keepalived notifies after adding the VIP again promotes)", ev.State)
}

// Fence retries in notify.
const (
	// Retried often and for long (the notify budget bounds it): a fence
	// that fails because the server hangs or is frozen must land the
	// moment it answers again, or a writable server without the VIP
	// lingers (measured with mysqld under SIGSTOP: up to 2 s of backoff
	// left it writable ~0.6 s after SIGCONT).
	defaultFenceAttempts = 60
	defaultFenceBackoff  = 100 * time.Millisecond
	maxFenceBackoff      = 250 * time.Millisecond
)

// Notifier applies keepalived events to this node's server.
type Notifier struct {
	Dir   string // state_dir
	Local DB
	Peer  DB // nil when peer.mysql_dsn is not set
	// Peers, when there are several (peers:), are every peer's server:
	// promotion then follows PromoteAmong; Peer is nil.
	Peers        []DB
	VIP          func() VIPView
	FenceTimeout time.Duration
	Promote      PromoteOptions
	Log          *slog.Logger
	// VIPSettle is how long an event whose state disagrees with the VIP
	// waits for keepalived to finish adding or removing it; default 1s.
	VIPSettle time.Duration
	// FenceAttempts bounds how many times a failed fence is tried
	// (default 60); the first retry waits FenceRetryBackoff (default
	// 100ms), each next one twice as long, at most 250ms. Retries stop early
	// when the context cannot hold another attempt (db.MinFenceTimeout).
	FenceAttempts     int
	FenceRetryBackoff time.Duration
	// Roles, when set, is told when this server loses or takes the
	// primary role (internal/node marks or clears the stale ex-primary in
	// the state).
	Roles RoleRecorder
}

// RoleRecorder is told of role changes of this node's server.
type RoleRecorder interface {
	// LostPrimary: a writable server was fenced other than by a drain
	// (the VIP went away, or the split-brain guard fenced it).
	LostPrimary(why string)
	// BecamePrimary: the server was promoted (it has every transaction
	// the peer had).
	BecamePrimary(how string)
}

func (n *Notifier) vip(want bool) VIPView {
	if n.VIP == nil {
		return VIPView{}
	}
	settle := n.VIPSettle
	if settle <= 0 {
		settle = time.Second
	}
	deadline := time.Now().Add(settle)
	for {
		v := n.VIP()
		if v.Err == nil && v.Held == want || time.Now().After(deadline) {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Handle applies one event under the notify lock and records the decision.
// The returned error is non-nil when the event was refused or failed.
func (n *Notifier) Handle(ctx context.Context, ev Event) (Record, error) {
	release, err := lockNotify(ctx, n.Dir)
	if err != nil {
		return Record{}, err
	}
	defer release()
	last, haveLast, err := LoadRecord(n.Dir)
	if err != nil {
		n.Log.Warn("notify record unreadable; treating this event as the newest", "err", err)
		haveLast = false
	}
	plan, why := decideNotify(ev, last, haveLast, n.vip(ev.State == "MASTER"))
	if plan == planIgnore {
		n.Log.Warn("notify: ignored", "instance", ev.Name, "event", ev.State, "why", why)
		return Record{MySQLStatus: health.MySQLStatus{Seq: last.Seq, Event: ev.State, Action: ActionIgnored, Detail: why, At: time.Now().UTC()}}, nil
	}
	// The transition is the truth from here on, whatever the database says.
	st := state.Store{Dir: n.Dir}
	if err := st.SaveTransition(state.Transition{Kind: ev.Kind, Instance: ev.Name, State: ev.State, Priority: ev.Priority, At: time.Now().UTC()}); err != nil {
		n.Log.Warn("notify: could not record the transition", "err", err)
	}
	var out Outcome
	applied := applied{event: ev.State, instance: ev.Name, started: ev.Started, stamp: ev.Stamp}
	switch plan {
	case planPromote:
		applied.plan = PlanPromote
		jw := n.beginPromote()
		out, err = n.promote(ctx, n.Promote)
		jw.Done()
	case planFence:
		applied.plan = PlanFence
		out, err = n.fence(ctx)
	}
	out.Detail = why + ": " + out.Detail
	n.tellRoles(out)
	return n.record(ctx, last, applied, out, err)
}

// applied is what record needs to know of the event it records.
type applied struct {
	event, instance string
	started         time.Time
	stamp           Stamp
	plan            string // PlanPromote, PlanFence, or empty
}

// fence makes the server read-only, trying again after a failure (SET
// GLOBAL read_only gives up when running transactions outlast its lock
// wait) until FenceAttempts are spent or ctx cannot hold another attempt.
func (n *Notifier) fence(ctx context.Context) (Outcome, error) {
	attempts := n.FenceAttempts
	if attempts <= 0 {
		attempts = defaultFenceAttempts
	}
	backoff := n.FenceRetryBackoff
	if backoff <= 0 {
		backoff = defaultFenceBackoff
	}
	start := time.Now()
	wasWritable := false
	for i := 1; ; i++ {
		out, err := Demote(ctx, n.Local, n.FenceTimeout)
		wasWritable = wasWritable || out.WasWritable
		out.WasWritable = wasWritable
		if err == nil {
			if i > 1 {
				out.Detail += fmt.Sprintf(" (attempt %d, %s after the first)", i, time.Since(start).Round(time.Millisecond))
			}
			return out, nil
		}
		var stop string
		switch {
		case i >= attempts:
			stop = fmt.Sprintf("%d attempts", i)
		case ctx.Err() != nil:
			stop = fmt.Sprintf("%d attempts, the notify budget is spent", i)
		default:
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < backoff+db.MinFenceTimeout {
				stop = fmt.Sprintf("%d attempts, the notify budget cannot hold another", i)
			}
		}
		if stop != "" {
			d := fmt.Sprintf("fence failed (%s over %s): %v; the server may still be writable: the split-brain guard (`hacheck check`) fails and fences it while this node does not hold the VIP",
				stop, time.Since(start).Round(time.Millisecond), err)
			return Outcome{Action: ActionFailed, Detail: d}, err
		}
		n.Log.Warn("notify: fence failed; trying again", "attempt", i, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxFenceBackoff)
	}
}

// PromoteNow is `hacheck promote`: the MASTER path, run by hand, under the
// notify lock. It refuses on a node that does not hold a configured VIP.
func (n *Notifier) PromoteNow(ctx context.Context, force bool, started time.Time) (Record, error) {
	stamp, serr := NowStamp()
	if serr != nil {
		n.Log.Warn("promote: no ordering stamp", "err", serr)
	}
	release, err := lockNotify(ctx, n.Dir)
	if err != nil {
		return Record{}, err
	}
	defer release()
	last, _, err := LoadRecord(n.Dir)
	if err != nil {
		n.Log.Warn("notify record unreadable", "err", err)
	}
	if v := n.vip(true); v.Known && (v.Err != nil || !v.Held) {
		why := "this node does not hold the VIP: a node without the VIP never takes writes"
		if v.Err != nil {
			why = fmt.Sprintf("whether this node holds the VIP is unknown (%v)", v.Err)
		}
		out := Outcome{Action: ActionRefused, Detail: "promote: " + why}
		return n.record(ctx, last, applied{event: "PROMOTE", started: started, stamp: stamp}, out, nil)
	}
	opt := n.Promote
	opt.Force = force
	jw := n.beginPromote()
	out, err := n.promote(ctx, opt)
	jw.Done()
	out.Detail = "promote by hand: " + out.Detail
	n.tellRoles(out)
	return n.record(ctx, last, applied{event: "PROMOTE", started: started, stamp: stamp, plan: PlanPromote}, out, err)
}

// tellRoles reports a role change to Roles: a fence that found the server
// writable lost the primary role; a promotion took it.
func (n *Notifier) tellRoles(out Outcome) {
	if n.Roles == nil {
		return
	}
	switch {
	case out.Action == ActionFenced && out.WasWritable:
		n.Roles.LostPrimary(out.Detail)
	case out.Action == ActionPromoted:
		n.Roles.BecamePrimary(out.Detail)
	}
}

func (n *Notifier) record(ctx context.Context, last Record, a applied, out Outcome, err error) (Record, error) {
	event := a.event
	r := Record{MySQLStatus: health.MySQLStatus{Seq: last.Seq + 1, Event: event, Action: out.Action, Detail: out.Detail, Diverged: out.Diverged, At: time.Now().UTC()},
		Instance: a.instance, Started: a.started, Stamp: a.stamp, Plan: a.plan}
	// The record keeps the newest stamp applied so far: an event older
	// than any applied one stays stale, even after a stale fence.
	if a.stamp.BootID == "" || a.stamp.OlderThan(last.Stamp) {
		r.Stamp = last.Stamp
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	if ro, rerr := n.Local.ReadOnly(rctx); rerr == nil {
		v := ro.Fenced()
		r.ReadOnly = &v
	}
	cancel()
	// A failed fence may still have landed (a statement the client gave up
	// on): pending only while the server is not seen read-only.
	r.FencePending = a.plan == PlanFence && out.Action != ActionFenced && (r.ReadOnly == nil || !*r.ReadOnly)
	if serr := saveRecord(n.Dir, r); serr != nil {
		n.Log.Error("notify: could not record the decision", "err", serr)
		if err == nil {
			err = fmt.Errorf("record decision: %w", serr)
		}
	}
	level := slog.LevelInfo
	switch {
	case err != nil || out.Action == ActionFailed:
		level = slog.LevelError
	case out.Action == ActionRefused:
		level = slog.LevelWarn
	}
	n.Log.Log(ctx, level, "mysql "+out.Action, "event", event, "seq", r.Seq, "detail", out.Detail)
	if err == nil && out.Action == ActionRefused {
		err = errors.New(out.Detail)
	}
	return r, err
}

// promote is Promote with the one peer, or PromoteAmong with several.
func (n *Notifier) promote(ctx context.Context, opt PromoteOptions) (Outcome, error) {
	if len(n.Peers) > 1 {
		return PromoteAmong(ctx, n.Local, n.Peers, opt)
	}
	return Promote(ctx, n.Local, n.Peer, opt)
}
