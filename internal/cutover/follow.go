package cutover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// ErrPeerNotPrimary means the peer is still read-only: it has not been
// promoted yet, so there is nothing to follow (`drain --follow` retries).
var ErrPeerNotPrimary = errors.New("peer is read-only: not promoted yet")

// FollowOptions say where to replicate from.
type FollowOptions struct {
	Host, User, Password string // the peer's address as used in peer.mysql_dsn; replication.user/password
	Port                 int
	Wait                 time.Duration // how long to wait for both threads to run; default 5s
	// QueryTimeout and PeerTimeout bound each query to this node's server
	// and to the peer's (mysql.query_timeout, peer.timeout); zero takes
	// each server's own, as opened.
	QueryTimeout, PeerTimeout time.Duration
	// Step, when set, is told each step before it is taken (the follow
	// journal: see OpWriter).
	Step func(step string)
}

// Follow makes local (a fenced old primary) a GTID replica of peer (the new
// primary), so that a later drain on the peer can move everything back:
//
//   - local must be read-only: a writable server must never start following;
//   - peer must be writable (promoted), else ErrPeerNotPrimary;
//   - peer must already contain everything local has: otherwise local has
//     transactions that the new primary lacks, and following would hide
//     them (refused; resolve by hand);
//   - then CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos (after
//     gtid_slave_pos = gtid_current_pos on MariaDB), START REPLICA, and wait
//     until both threads run, replicating from the peer's server_id.
//
// Each query has its own bound (QueryTimeout, PeerTimeout) within ctx.
func Follow(ctx context.Context, local, peer DB, opt FollowOptions, out io.Writer) error {
	q, pq := queryTimeout(local, opt.QueryTimeout), queryTimeout(peer, opt.PeerTimeout)
	ro, err := bounded(ctx, q, local.ReadOnly)
	if err != nil {
		return err
	}
	if !ro.Fenced() {
		return fmt.Errorf("%s is writable (%s): only a read-only server may follow the peer (drain it first)", local, ro)
	}
	pro, err := bounded(ctx, pq, peer.ReadOnly)
	if err != nil {
		return err
	}
	if pro.Fenced() {
		return fmt.Errorf("%s: %w", peer, ErrPeerNotPrimary)
	}
	peerID, err := bounded(ctx, pq, peer.ServerID)
	if err != nil {
		return err
	}
	pos, err := bounded(ctx, q, local.GTIDPosition)
	if err != nil {
		return err
	}
	ok, err := bounded(ctx, pq, func(ctx context.Context) (bool, error) { return peer.HasApplied(ctx, pos) })
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has transactions that %s lacks (local position %q is not contained in the peer's): following would hide them; resolve by hand", local, peer, pos)
	}
	step := func(s string) {
		if opt.Step != nil {
			opt.Step(s)
		}
	}
	src := db.Source{Host: opt.Host, Port: opt.Port, User: opt.User, Password: opt.Password}
	step("change-source")
	if err := boundedErr(ctx, q, func(ctx context.Context) error { return local.ChangeSource(ctx, src) }); err != nil {
		return err
	}
	step("start-replica")
	if err := boundedErr(ctx, q, local.StartReplica); err != nil {
		return err
	}
	wait := opt.Wait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	deadline := time.Now().Add(wait)
	step("wait-running")
	for {
		st, err := bounded(ctx, q, local.ReplicaStatus)
		if err != nil {
			return err
		}
		okRepl, detail := db.EvaluateReplica(st, db.ReplicaPolicy{})
		if okRepl && st.SourceServerID == peerID {
			fmt.Fprintf(out, "%s now replicates from %s (server_id %d): %s\n", local, peer, peerID, detail)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not replicate from %s within %s: %s", local, peer, wait, detail)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
