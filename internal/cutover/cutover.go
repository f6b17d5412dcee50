// Package cutover moves the writable MySQL/MariaDB primary between the two
// nodes of a keepalived pair without losing an acknowledged write.
//
// A planned move (`hacheck drain` on the primary) runs, in order:
//
//  1. PeerReady (a drain precondition): the peer's hacheck reports "up" on
//     peer.url/status, and the peer's server replicates from this one (its
//     source server_id is ours), both replica threads running, no error.
//  2. Fence (a drain step): this server becomes read-only within
//     mysql.fence_timeout; then its GTID position, now frozen, is read.
//  3. CatchUp (a drain step): the peer waits, server-side, until it has
//     applied that position (drain.catchup_timeout), and the position is
//     verified to be contained in what the peer has applied.
//  4. The drain flips the state; keepalived moves the VIP; keepalived runs
//     `hacheck notify ... MASTER` on the peer, which Promotes its server.
//
// If 1-3 fail, the drain undoes the fence and the state stays "up".
//
// Where each decision lives, one file per role:
//
//	peerready.go  the drain precondition: may the peer take over? (EvaluatePeer)
//	fence.go      the drain step that makes this server read-only, and its exact undo
//	fencekill.go  the fence's wait-then-kill of what holds it up (mysql.fence_kill)
//	fenceundo.go  the undo of a fence left by a killed drain (drain journal recovery)
//	catchup.go    the drain step that waits until the peer has applied the frozen position
//	promote.go    make this server the writable primary, or refuse (Promote); fence it (Demote)
//	follow.go     make a fenced old primary a GTID replica of the new one (Follow)
//	guard.go      the split-brain guard: a writable server belongs with the VIP (evaluateGuard),
//	              as a live check and once at undrain (PrepareStandby)
//	notify.go     what a keepalived event does (decideNotify) and applying it (Notifier)
//	event.go      the notify arguments and the boot-clock stamp that orders invocations
//	record.go     notify.json (the last applied decision) and the notify lock
//	opjournal.go  the intent journals of promote and follow (shown by status when killed)
//
// Decisions are pure functions table-tested with fakes; everything that
// talks to a server goes through the small DB interface, which *db.Server
// implements. Nothing here reads the configuration: internal/node wires
// these types from it.
package cutover

import (
	"context"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// DB is what cutover needs of a server. *db.Server implements it; the
// tests use fakes.
type DB interface {
	String() string
	ServerID(ctx context.Context) (uint32, error)
	ReadOnly(ctx context.Context) (db.ReadOnlyState, error)
	SetReadOnly(ctx context.Context, on bool) error
	GTIDPosition(ctx context.Context) (string, error)
	WaitForGTID(ctx context.Context, pos string, serverTimeout time.Duration) error
	HasApplied(ctx context.Context, pos string) (bool, error)
	ReplicaStatus(ctx context.Context) (*db.ReplicaStatus, error)
	StopReplica(ctx context.Context) error
	StopApplier(ctx context.Context) error // the SQL thread only
	StartReplica(ctx context.Context) error
	ChangeSource(ctx context.Context, src db.Source) error
}

var _ DB = (*db.Server)(nil)

// queryTimeouter is a server that knows its own per-query bound
// (mysql.query_timeout); *db.Server implements it.
type queryTimeouter interface{ QueryTimeout() time.Duration }

var _ queryTimeouter = (*db.Server)(nil)

// queryTimeout is the bound for one query to s: d when set, else the
// server's own, else db.DefaultQueryTimeout. The server applies its
// own only to a context without a deadline; a caller that holds a long
// budget (notify, follow) bounds each query with this instead.
func queryTimeout(s DB, d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	if q, ok := s.(queryTimeouter); ok && q.QueryTimeout() > 0 {
		return q.QueryTimeout()
	}
	return db.DefaultQueryTimeout
}

// bounded runs f under its own bound d (none when d <= 0) within ctx.
func bounded[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := withTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

// boundedErr is bounded for a call that returns only an error.
func boundedErr(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	ctx, cancel := withTimeout(ctx, d)
	defer cancel()
	return f(ctx)
}

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}
