package cutover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// Promotion outcomes (health.MySQLStatus.Action).
const (
	ActionPromoted = "promoted" // a replica became the writable primary
	ActionWritable = "writable" // already the primary (no replication source): made sure it is writable
	ActionFenced   = "fenced"   // made read-only
	ActionRefused  = "refused"  // stayed read-only, on purpose; Detail says why
	ActionIgnored  = "ignored"  // a stale event; nothing done
	ActionFailed   = "failed"   // could not do what was decided; Detail says why
)

// PromoteOptions bound and steer a promotion.
type PromoteOptions struct {
	// Unplanned is promote.unplanned: "refuse" (default) keeps the server
	// read-only when the old primary cannot be reached; "promote" promotes.
	Unplanned string
	// Force promotes when the old primary cannot be reached, whatever
	// Unplanned says (`hacheck promote --force`).
	Force          bool
	CatchupTimeout time.Duration // wait for the frozen position (drain.catchup_timeout)
	FenceTimeout   time.Duration // fence the old primary if it is still writable (mysql.fence_timeout)
	PeerTimeout    time.Duration // bound for each query to the old primary (peer.timeout)
	// QueryTimeout bounds each query to this node's server
	// (mysql.query_timeout); zero takes the server's own, as opened. The
	// statements that wait for running work (STOP REPLICA, SET GLOBAL
	// read_only) get at least FenceTimeout.
	QueryTimeout time.Duration
	// VIP, when set, is read again just before this node's server is made
	// writable: the catch-up may have waited up to CatchupTimeout, and a
	// node that has lost the VIP meanwhile must stay read-only.
	VIP func() VIPView
	// CatchUpFrom, when set (replication.user), lets a server that does
	// not replicate and lacks some of the peer's transactions catch up
	// from the peer before it is made writable; nil: such a promotion is
	// refused.
	CatchUpFrom *FollowOptions
}

// Outcome is what a promotion or a fence did, for the record and the log.
type Outcome struct {
	Action string
	Detail string
	// Diverged: the peer had transactions local lacked while local did not
	// replicate (caught up first, or refused).
	Diverged bool
	// WasWritable: a fence found the server writable (it was the primary).
	WasWritable bool
}

// Promote makes local the writable primary, when that is safe. The rule:
// local becomes writable only once every transaction the peer's server
// (the old primary) has is applied here; "no replication source" never
// means "I am the primary" on its own, since after an unplanned move that
// is exactly the stale ex-primary.
//
//   - local is already writable and does not replicate (no source, or its
//     replica threads stopped, as a promotion leaves them): it is already
//     the primary; nothing to do. A repeated MASTER is idempotent.
//   - the old primary (peer) answers: fence it if it is still writable,
//     read its frozen GTID position, and make sure local has applied it:
//     a replica waits for it; a server that does not replicate (no source,
//     threads stopped) and lacks some of it has DIVERGED: it catches up
//     from the peer first (opt.CatchUpFrom: replicate from the peer until
//     the position is applied) or, without replication credentials,
//     refuses. Then stop the replica threads (the configuration is kept,
//     so the move can be reversed) and make local writable.
//   - the old primary cannot be reached (unplanned failover, or peer
//     unreachable at start): with Unplanned "promote" or Force, promote
//     anyway (what it had not replicated is lost); otherwise refuse and
//     stay read-only, naming `hacheck promote --force` and what it loses.
//   - no peer is configured (peer.mysql_dsn unset) and local has no
//     source: a single server, the event is the authority; writable.
//
// Just before local is made writable, the VIP is read again (opt.VIP); a
// node that no longer holds it refuses and stays read-only. Each query has
// its own bound (QueryTimeout for local, PeerTimeout for the peer), so a
// server that hangs cannot hold the caller for its whole budget.
//
// A refusal is an Outcome with Action refused and a nil error; an error
// means a step failed (Action failed) and local is left read-only unless it
// was already made writable.
func Promote(ctx context.Context, local, peer DB, opt PromoteOptions) (Outcome, error) {
	q := queryTimeout(local, opt.QueryTimeout)
	slow := max(q, opt.FenceTimeout) // STOP REPLICA, SET GLOBAL read_only
	failed := func(err error) (Outcome, error) {
		return Outcome{Action: ActionFailed, Detail: err.Error()}, err
	}
	ro, err := bounded(ctx, q, local.ReadOnly)
	if err != nil {
		return failed(err)
	}
	st, err := bounded(ctx, q, local.ReplicaStatus)
	if err != nil {
		return failed(err)
	}
	replicating := st != nil && !replicaStopped(st)
	if writable(ro) && !replicating {
		how := "no replication source"
		if st != nil {
			how = fmt.Sprintf("replica threads stopped, replication configuration from %s kept", st.Source())
		}
		d := fmt.Sprintf("%s is already the writable primary (%s; %s): nothing to do", local, ro, how)
		return Outcome{Action: ActionWritable, Detail: d}, nil
	}
	if peer == nil && !replicating {
		if why := vipLost(opt); why != "" {
			return Outcome{Action: ActionRefused, Detail: fmt.Sprintf("%s has no replication source, but %s: staying read-only", local, why)}, nil
		}
		if err := boundedErr(ctx, slow, func(ctx context.Context) error { return local.SetReadOnly(ctx, false) }); err != nil {
			return failed(err)
		}
		return Outcome{Action: ActionWritable, Detail: fmt.Sprintf("%s has no replication source and no peer is configured (peer.mysql_dsn): a single primary; writable", local)}, nil
	}

	var unreachable error
	if peer == nil {
		unreachable = fmt.Errorf("peer.mysql_dsn is not set")
	} else {
		pq := queryTimeout(peer, opt.PeerTimeout)
		pro, err := bounded(ctx, pq, peer.ReadOnly)
		var peerID uint32
		if err == nil {
			peerID, err = bounded(ctx, pq, peer.ServerID)
		}
		switch {
		case err != nil:
			unreachable = err
		case replicating && st.SourceServerID != 0 && peerID != st.SourceServerID:
			d := fmt.Sprintf("%s replicates from server_id %d (%s), but the peer %s is server_id %d: not promoting over an unknown primary",
				local, st.SourceServerID, st.Source(), peer, peerID)
			return Outcome{Action: ActionRefused, Detail: d}, nil
		case !pro.Fenced():
			err := boundedErr(ctx, opt.FenceTimeout, func(ctx context.Context) error { return peer.SetReadOnly(ctx, true) })
			if err != nil {
				d := fmt.Sprintf("old primary %s is writable and could not be fenced (%v): staying read-only; run `hacheck promote` once it can be fenced", peer, err)
				return Outcome{Action: ActionRefused, Detail: d}, nil
			}
		}
	}

	if unreachable != nil {
		if !opt.Force && opt.Unplanned != "promote" {
			what := "the old primary"
			if !replicating {
				what = "the peer's server (which may have writes this one lacks)"
			}
			d := fmt.Sprintf("%s cannot be reached (%v): staying read-only (promote.unplanned is refuse). `hacheck promote` is retried by serve and succeeds once it answers; `hacheck promote --force` promotes now and loses every write %s had not replicated here",
				what, unreachable, what)
			return Outcome{Action: ActionRefused, Detail: d}, nil
		}
		why := "promote.unplanned is promote"
		if opt.Force {
			why = "--force"
		}
		out, err := makeWritable(ctx, local, opt, q, slow, st != nil)
		if out.Action != "" {
			return out, err
		}
		d := fmt.Sprintf("UNPLANNED: the peer's server cannot be reached (%v); promoted %s anyway (%s): transactions it had not replicated are lost", unreachable, local, why)
		return Outcome{Action: ActionPromoted, Detail: d + out.Detail}, nil
	}

	pos, err := bounded(ctx, queryTimeout(peer, opt.PeerTimeout), peer.GTIDPosition)
	if err != nil {
		d := fmt.Sprintf("read the old primary's frozen position: %v: staying read-only; run `hacheck promote` once it answers", err)
		return Outcome{Action: ActionRefused, Detail: d}, nil
	}
	start := time.Now()
	hasApplied := func(ctx context.Context) (bool, error) { return local.HasApplied(ctx, pos) }
	applied, err := bounded(ctx, q, hasApplied)
	var diverged, caughtUp bool
	if err == nil && !applied {
		if !replicating {
			diverged = true
			if opt.CatchUpFrom == nil {
				lpos, _ := bounded(ctx, q, local.GTIDPosition)
				d := fmt.Sprintf("DIVERGED: %s does not replicate, and the peer %s has transactions it lacks (peer at %q, this server at %q): staying read-only; run `hacheck follow` (it catches up from the peer), then `hacheck promote` (set replication.user to let promotion catch up by itself)",
					local, peer, pos, lpos)
				return Outcome{Action: ActionRefused, Detail: d, Diverged: true}, nil
			}
			err = catchUpFrom(ctx, local, *opt.CatchUpFrom, pos, opt.CatchupTimeout, q)
			caughtUp = err == nil
		} else {
			err = boundedErr(ctx, opt.CatchupTimeout, func(ctx context.Context) error {
				return local.WaitForGTID(ctx, pos, opt.CatchupTimeout)
			})
		}
		if err == nil {
			applied, err = bounded(ctx, q, hasApplied)
		}
	}
	if err != nil || !applied {
		why := "its applied set does not contain it"
		if err != nil {
			why = err.Error()
		}
		d := fmt.Sprintf("%s has not applied the old primary's frozen position %q (%s): staying read-only; run `hacheck promote` again once it has (serve retries it)", local, pos, why)
		if diverged {
			d = "DIVERGED: " + d
		}
		return Outcome{Action: ActionRefused, Detail: d, Diverged: diverged}, nil
	}
	out, err := makeWritable(ctx, local, opt, q, slow, st != nil || caughtUp)
	if out.Action != "" {
		out.Diverged = diverged
		return out, err
	}
	how := "applied it"
	if caughtUp {
		how = fmt.Sprintf("lacked some of it and caught up from %s first, then", peer)
	}
	d := fmt.Sprintf("old primary %s is read-only at %q; %s %s (checked in %s), stopped its replica threads (configuration kept) and is writable",
		peer, pos, local, how, time.Since(start).Round(time.Millisecond))
	return Outcome{Action: ActionPromoted, Detail: d + out.Detail, Diverged: diverged}, nil
}

// catchUpFrom makes local replicate from the peer (src) until it has
// applied pos, within timeout. The replica threads are left running;
// makeWritable stops them.
func catchUpFrom(ctx context.Context, local DB, src FollowOptions, pos string, timeout, q time.Duration) error {
	source := db.Source{Host: src.Host, Port: src.Port, User: src.User, Password: src.Password}
	if err := boundedErr(ctx, q, func(ctx context.Context) error { return local.ChangeSource(ctx, source) }); err != nil {
		return fmt.Errorf("catch up from the peer: %w", err)
	}
	if err := boundedErr(ctx, q, local.StartReplica); err != nil {
		return fmt.Errorf("catch up from the peer: %w", err)
	}
	return boundedErr(ctx, timeout, func(ctx context.Context) error {
		return local.WaitForGTID(ctx, pos, timeout)
	})
}

// makeWritable stops local's replica threads (when it has a source) and
// makes it writable, each only while this node still holds the VIP. It
// returns an Outcome without Action when local is writable (its Detail, if
// any, a note for the caller's own: "; ..."); otherwise the Outcome says
// why not (refused: local is read-only, its replica threads restarted if
// they had been stopped; failed: a statement failed, with the error).
//
// Of the replica threads, the SQL thread (which applies) is stopped before
// read_only goes off and the IO thread (which only fetches into the relay
// log) after: nothing from the old primary is applied once the first has
// stopped, and waiting for the IO thread's connection to end first is the
// slowest statement of a promotion. The IO thread's stop is reported when
// it fails; local is writable then all the same.
func makeWritable(ctx context.Context, local DB, opt PromoteOptions, q, slow time.Duration, hasSource bool) (Outcome, error) {
	if why := vipLost(opt); why != "" {
		return Outcome{Action: ActionRefused, Detail: fmt.Sprintf("%s: %s stays read-only", why, local)}, nil
	}
	if !hasSource {
		if err := boundedErr(ctx, slow, func(ctx context.Context) error { return local.SetReadOnly(ctx, false) }); err != nil {
			return Outcome{Action: ActionFailed, Detail: err.Error()}, err
		}
		return Outcome{}, nil
	}
	if err := boundedErr(ctx, slow, local.StopApplier); err != nil {
		return Outcome{Action: ActionFailed, Detail: err.Error()}, err
	}
	if why := vipLost(opt); why != "" {
		d := fmt.Sprintf("%s: %s stays read-only", why, local)
		if err := boundedErr(ctx, q, local.StartReplica); err != nil {
			d += fmt.Sprintf("; its replica SQL thread was stopped and could not be restarted: %v", err)
		} else {
			d += "; its replica threads restarted"
		}
		return Outcome{Action: ActionRefused, Detail: d}, nil
	}
	if err := boundedErr(ctx, slow, func(ctx context.Context) error { return local.SetReadOnly(ctx, false) }); err != nil {
		return Outcome{Action: ActionFailed, Detail: err.Error()}, err
	}
	if err := boundedErr(ctx, slow, local.StopReplica); err != nil {
		return Outcome{Detail: fmt.Sprintf("; but its replica IO thread could not be stopped after the SQL thread (%v): run STOP REPLICA on it", err)}, nil
	}
	return Outcome{}, nil
}

// vipLost says why this node must not become writable now: the VIP, read
// again, is not held or cannot be read. Empty when it is held or when no
// VIP is configured.
func vipLost(opt PromoteOptions) string {
	if opt.VIP == nil {
		return ""
	}
	v := opt.VIP()
	switch {
	case !v.Known:
		return ""
	case v.Err != nil:
		return fmt.Sprintf("whether this node still holds the VIP is unknown (%v)", v.Err)
	case !v.Held:
		return "this node no longer holds the VIP (it moved while the promotion ran)"
	}
	return ""
}

// writable: neither read_only nor super_read_only is set.
func writable(ro db.ReadOnlyState) bool { return !ro.ReadOnly && !ro.SuperReadOnly }

// replicaStopped: both replica threads are stopped (not running, not
// connecting).
func replicaStopped(st *db.ReplicaStatus) bool {
	return strings.EqualFold(st.IORunning, "No") && strings.EqualFold(st.SQLRunning, "No")
}

// Demote makes local read-only within timeout. WasWritable in the
// Outcome says whether it was writable before (read first; false when that
// read failed).
func Demote(ctx context.Context, local DB, timeout time.Duration) (Outcome, error) {
	ctx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	before, rerr := local.ReadOnly(ctx)
	wasWritable := rerr == nil && !before.Fenced()
	if err := local.SetReadOnly(ctx, true); err != nil {
		return Outcome{Action: ActionFailed, Detail: err.Error(), WasWritable: wasWritable}, err
	}
	if rerr == nil && !wasWritable {
		return Outcome{Action: ActionFenced, Detail: fmt.Sprintf("%s is read-only (it already was)", local)}, nil
	}
	return Outcome{Action: ActionFenced, Detail: fmt.Sprintf("%s is read-only", local), WasWritable: wasWritable}, nil
}
