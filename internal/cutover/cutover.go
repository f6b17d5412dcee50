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
// Decisions are pure functions (EvaluatePeer, decideNotify, evaluateGuard)
// table-tested with fakes; everything that talks to a server goes through
// the small DB interface, which *hamysql.Server implements.
package cutover

import (
	"context"
	"fmt"
	"time"

	hamysql "github.com/hacheck/hacheck/check/mysql"
	"github.com/hacheck/hacheck/internal/config"
)

// DB is what cutover needs of a server. *hamysql.Server implements it; the
// tests use fakes.
type DB interface {
	String() string
	ServerID(ctx context.Context) (uint32, error)
	ReadOnly(ctx context.Context) (hamysql.ReadOnlyState, error)
	SetReadOnly(ctx context.Context, on bool) error
	GTIDPosition(ctx context.Context) (string, error)
	WaitForGTID(ctx context.Context, pos string, serverTimeout time.Duration) error
	HasApplied(ctx context.Context, pos string) (bool, error)
	ReplicaStatus(ctx context.Context) (*hamysql.ReplicaStatus, error)
	StopReplica(ctx context.Context) error
	StartReplica(ctx context.Context) error
	ChangeSource(ctx context.Context, src hamysql.Source) error
}

var _ DB = (*hamysql.Server)(nil)

// Open opens a server with the configured bounds: mysql.query_timeout for
// calls without a deadline and mysql.fence_timeout for the server-side
// lock wait of SET GLOBAL read_only. The dial timeout is capped at
// mysql.query_timeout when the DSN sets none, so that an unreachable
// server fails within the caller's budget.
func Open(dsn string, cfg *config.Config) (*hamysql.Server, error) {
	opts := hamysql.Options{
		QueryTimeout:    cfg.MySQL.QueryTimeout,
		LockWaitTimeout: cfg.MySQL.FenceTimeout,
		DialTimeout:     min(hamysql.DefaultDialTimeout, max(cfg.MySQL.QueryTimeout, 500*time.Millisecond)),
	}
	if c, err := parseDSN(dsn); err == nil && c.Timeout > 0 {
		opts.DialTimeout = 0 // the DSN's own timeout= wins
	}
	return hamysql.Open(dsn, opts)
}

// queryTimeouter is a server that knows its own per-query bound
// (mysql.query_timeout); *hamysql.Server implements it.
type queryTimeouter interface{ QueryTimeout() time.Duration }

var _ queryTimeouter = (*hamysql.Server)(nil)

// queryTimeout is the bound for one query to db: d when set, else the
// server's own, else hamysql.DefaultQueryTimeout. The server applies its
// own only to a context without a deadline; a caller that holds a long
// budget (notify, follow) bounds each query with this instead.
func queryTimeout(db DB, d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	if q, ok := db.(queryTimeouter); ok && q.QueryTimeout() > 0 {
		return q.QueryTimeout()
	}
	return hamysql.DefaultQueryTimeout
}

// Pair is this node's server and the peer's, opened from mysql.dsn and
// peer.mysql_dsn (Peer is nil when peer.mysql_dsn is empty).
type Pair struct {
	Local     *hamysql.Server
	Peer      *hamysql.Server
	LocalDSN  string
	PeerDSN   string
	closeOnce bool
}

// OpenPair opens both servers of cfg. mysql.dsn is required.
func OpenPair(cfg *config.Config) (*Pair, error) {
	if cfg.MySQL.DSN == "" {
		return nil, fmt.Errorf("mysql.dsn is not set (this command needs this node's server)")
	}
	local, err := Open(cfg.MySQL.DSN, cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql.dsn: %w", err)
	}
	p := &Pair{Local: local, LocalDSN: local.String()}
	if cfg.Peer.MySQLDSN != "" {
		peer, err := Open(cfg.Peer.MySQLDSN, cfg)
		if err != nil {
			local.Close()
			return nil, fmt.Errorf("peer.mysql_dsn: %w", err)
		}
		p.Peer, p.PeerDSN = peer, peer.String()
	}
	return p, nil
}

// Close closes both pools.
func (p *Pair) Close() error {
	if p == nil || p.closeOnce {
		return nil
	}
	p.closeOnce = true
	var err error
	if p.Peer != nil {
		err = p.Peer.Close()
	}
	if e := p.Local.Close(); e != nil {
		err = e
	}
	return err
}

// peerDB returns the peer as a DB, or nil (a nil *Server in a DB interface
// would not compare equal to nil).
func (p *Pair) peerDB() DB {
	if p.Peer == nil {
		return nil
	}
	return p.Peer
}
