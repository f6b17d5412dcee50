package cutover

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
)

// PeerFacts is what PeerReady gathered; EvaluatePeer judges it.
type PeerFacts struct {
	Status    health.Report
	StatusErr error
	LocalID   uint32
	LocalErr  error
	Replica   *db.ReplicaStatus
	ReplicaEr error
	PeerDSN   string
}

// EvaluatePeer decides whether the peer is ready to take over: its hacheck
// is up and healthy, and its server is a healthy GTID replica of this one.
// Every failed condition is listed.
func EvaluatePeer(f PeerFacts) (ok bool, detail string) {
	var bad, good []string
	switch {
	case f.StatusErr != nil:
		bad = append(bad, fmt.Sprintf("peer hacheck: %v", f.StatusErr))
	case f.Status.StateName() != "up":
		bad = append(bad, fmt.Sprintf("peer hacheck %s is %q, not up: %s", f.Status.Node, f.Status.StateName(), f.Status.Reason))
	case !f.Status.Healthy:
		bad = append(bad, fmt.Sprintf("peer hacheck %s is up but not healthy: %s", f.Status.Node, f.Status.Reason))
	default:
		good = append(good, fmt.Sprintf("peer hacheck %s is up and healthy", f.Status.Node))
	}
	switch {
	case f.LocalErr != nil:
		bad = append(bad, fmt.Sprintf("this server: %v", f.LocalErr))
	case f.ReplicaEr != nil:
		bad = append(bad, fmt.Sprintf("peer server: %v", f.ReplicaEr))
	default:
		rok, rdetail := db.EvaluateReplica(f.Replica, db.ReplicaPolicy{})
		switch {
		case !rok:
			bad = append(bad, fmt.Sprintf("peer server %s: %s", f.PeerDSN, rdetail))
		case f.Replica.SourceServerID != f.LocalID:
			bad = append(bad, fmt.Sprintf("peer server %s replicates from server_id %d (%s), not from this server (server_id %d)",
				f.PeerDSN, f.Replica.SourceServerID, f.Replica.Source(), f.LocalID))
		default:
			good = append(good, fmt.Sprintf("peer server %s replicates from this server (server_id %d), IO and SQL threads running", f.PeerDSN, f.LocalID))
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	return true, strings.Join(good, "; ")
}

// PeerReady is the drain precondition "the peer can take over".
type PeerReady struct {
	Local DB
	Peer  DB // nil: peer.mysql_dsn is not set
	// Status reads the peer's hacheck verdict (peer.url; peer.Client.Verdict).
	Status func(context.Context) (health.Report, error)
	// QueryTimeout bounds each of the two database reads (mysql.query_timeout).
	QueryTimeout time.Duration
}

var _ check.Precondition = (*PeerReady)(nil)

func (p *PeerReady) Name() string { return "peer-ready" }

func (p *PeerReady) Run(ctx context.Context, out io.Writer) check.Result {
	if p.Peer == nil {
		return check.Result{Detail: "peer.mysql_dsn is not set: cannot verify that the peer replicates from this server (set it, or drain --force)"}
	}
	if p.Status == nil {
		return check.Result{Detail: "peer.url is not set: cannot verify that the peer's hacheck is up (set it, or drain --force)"}
	}
	// The three reads are independent: they run at once, so the check
	// costs the slowest of them, not their sum. Each is bounded.
	f := PeerFacts{PeerDSN: p.Peer.String()}
	var wg sync.WaitGroup
	wg.Go(func() { f.Status, f.StatusErr = p.Status(ctx) })
	wg.Go(func() {
		qctx, cancel := withTimeout(ctx, p.QueryTimeout)
		defer cancel()
		f.LocalID, f.LocalErr = p.Local.ServerID(qctx)
	})
	wg.Go(func() {
		qctx, cancel := withTimeout(ctx, p.QueryTimeout)
		defer cancel()
		f.Replica, f.ReplicaEr = p.Peer.ReplicaStatus(qctx)
	})
	wg.Wait()
	ok, detail := EvaluatePeer(f)
	return check.Result{OK: ok, Detail: detail}
}
