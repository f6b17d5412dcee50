package cutover_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
)

func replicaOf(sourceID uint32, running string) *db.ReplicaStatus {
	return &db.ReplicaStatus{IORunning: running, SQLRunning: running, SourceHost: "192.0.2.1", SourcePort: 3306,
		SourceServerID: sourceID, UsingGTID: "Slave_Pos"}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// After a planned promotion the replication configuration is kept with
// both threads stopped. A later MASTER (keepalived restarted or reloaded)
// while the old primary is down must report the server as what it is, the
// writable primary, and change nothing.
func TestRepeatedMasterOnWritablePrimaryIsIdempotent(t *testing.T) {
	down := errors.New("dial tcp 192.0.2.1:3306: connect: connection refused")
	cases := []struct {
		name    string
		local   *server
		action  string
		did     string
		stillRW bool
	}{
		{name: "MariaDB, promoted before, threads stopped", local: &server{name: "b", dialect: db.MariaDB, replica: replicaOf(1, "No")},
			action: cutover.ActionWritable, stillRW: true},
		{name: "MySQL, promoted before, threads stopped", local: &server{name: "b", dialect: db.MySQL, replica: replicaOf(1, "No")},
			action: cutover.ActionWritable, stillRW: true},
		{name: "writable, no replication source", local: &server{name: "b", dialect: db.MariaDB},
			action: cutover.ActionWritable, stillRW: true},
		// Not the idempotent case: a read-only replica with its threads
		// stopped still needs the old primary to be promoted safely.
		{name: "read-only, threads stopped, old primary down", local: &server{name: "b", dialect: db.MariaDB, ro: true, replica: replicaOf(1, "No")},
			action: cutover.ActionRefused},
		// MySQL read_only without super_read_only is not writable for
		// ordinary clients: not "already primary".
		{name: "MySQL read_only only, threads stopped, old primary down", local: &server{name: "b", dialect: db.MySQL, ro: true, replica: replicaOf(1, "No")},
			action: cutover.ActionRefused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			peer := &server{name: "a", hang: map[string]bool{}}
			n := &cutover.Notifier{Dir: t.TempDir(), Local: c.local, Peer: &failing{peer, down}, FenceTimeout: time.Second, Log: quietLog(),
				Promote: cutover.PromoteOptions{Unplanned: "refuse", CatchupTimeout: time.Second, FenceTimeout: time.Second, PeerTimeout: time.Second}}
			rec, err := n.Handle(context.Background(), cutover.Event{Kind: "INSTANCE", Name: "VI_1", State: "MASTER", Priority: 100, Started: time.Now()})
			if rec.Action != c.action || (err != nil) != (c.action == cutover.ActionRefused) {
				t.Fatalf("MASTER: %s (%s), %v; want %s", rec.Action, rec.Detail, err, c.action)
			}
			if got := c.local.done(); got != c.did {
				t.Fatalf("local did %q, want %q", got, c.did)
			}
			if c.stillRW && (c.local.state().Fenced() || rec.ReadOnly == nil || *rec.ReadOnly) {
				t.Fatalf("state %s, recorded read_only %v", c.local.state(), rec.ReadOnly)
			}
		})
	}
}

// failing is a DB on which every call fails with err (a server that is down).
type failing struct {
	*server
	err error
}

func (f *failing) ReadOnly(context.Context) (db.ReadOnlyState, error) {
	return db.ReadOnlyState{}, f.err
}
func (f *failing) ServerID(context.Context) (uint32, error)     { return 0, f.err }
func (f *failing) GTIDPosition(context.Context) (string, error) { return "", f.err }
func (f *failing) SetReadOnly(context.Context, bool) error      { return f.err }

// vipSwitch is a VIP source whose answer the test flips.
type vipSwitch struct {
	held atomic.Bool
	err  atomic.Pointer[error]
}

func (v *vipSwitch) view() cutover.VIPView {
	vv := cutover.VIPView{Known: true, Held: v.held.Load()}
	if e := v.err.Load(); e != nil {
		vv.Err = *e
	}
	return vv
}

// The catch-up can wait up to catchup_timeout; if the VIP leaves this node
// meanwhile, the server must not become writable.
func TestPromoteRechecksTheVIPBeforeUnfencing(t *testing.T) {
	lose := func(v *vipSwitch) func() { return func() { v.held.Store(false) } }
	breakIt := func(v *vipSwitch) func() {
		return func() { e := errors.New("netlink: no such device"); v.err.Store(&e) }
	}
	cases := []struct {
		name   string
		setup  func(local *server, v *vipSwitch)
		action string
		did    string
		want   string
	}{
		{name: "VIP held throughout", setup: func(l *server, _ *vipSwitch) { l.onWait = func() {} }, action: cutover.ActionPromoted, did: "stop-applier,unfence,stop-replica"},
		{name: "VIP lost during the catch-up", setup: func(l *server, v *vipSwitch) { l.onWait = lose(v) },
			action: cutover.ActionRefused, want: "no longer holds the VIP"},
		{name: "VIP unreadable after the catch-up", setup: func(l *server, v *vipSwitch) { l.onWait = breakIt(v) },
			action: cutover.ActionRefused, want: "unknown"},
		{name: "VIP lost while the replica threads stop", setup: func(l *server, v *vipSwitch) { l.onWait, l.onStop = func() {}, lose(v) },
			action: cutover.ActionRefused, did: "stop-applier,start-replica", want: "replica threads restarted"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := &server{name: "b", dialect: db.MariaDB, ro: true, replica: replicaOf(1, "Yes")}
			peer := &server{name: "a", dialect: db.MariaDB, id: 1, ro: true, pos: "0-1-10"}
			v := &vipSwitch{}
			v.held.Store(true)
			c.setup(local, v)
			n := &cutover.Notifier{Dir: t.TempDir(), Local: local, Peer: peer, VIP: v.view, VIPSettle: 50 * time.Millisecond, FenceTimeout: time.Second, Log: quietLog(),
				Promote: cutover.PromoteOptions{Unplanned: "refuse", CatchupTimeout: 5 * time.Second, FenceTimeout: time.Second, PeerTimeout: time.Second}}
			n.Promote.VIP = n.VIP
			rec, err := n.Handle(context.Background(), cutover.Event{Kind: "INSTANCE", Name: "VI_1", State: "MASTER", Priority: 100, Started: time.Now()})
			if rec.Action != c.action || !strings.Contains(rec.Detail, c.want) {
				t.Fatalf("MASTER: %s (%s), %v; want %s containing %q", rec.Action, rec.Detail, err, c.action, c.want)
			}
			if got := local.done(); got != c.did {
				t.Fatalf("local did %q, want %q", got, c.did)
			}
			if c.action == cutover.ActionRefused && !local.state().Fenced() {
				t.Fatal("a node without the VIP became writable")
			}
		})
	}
}

// Each query has its own bound: a server that hangs (for example the old
// primary right after its fence) costs one query timeout, not the whole
// notify budget, which holds the notify lock.
func TestPromoteBoundsEachQuery(t *testing.T) {
	const bound = 200 * time.Millisecond
	cases := []struct {
		name       string
		localHang  string
		peerHang   string
		peerWrites bool // the old primary is still writable
		action     string
		writable   bool // local ends writable
	}{
		{name: "peer hangs reading its position", peerHang: "GTIDPosition", action: cutover.ActionRefused},
		{name: "peer hangs reading read_only", peerHang: "ReadOnly", action: cutover.ActionRefused},
		{name: "peer hangs reading server_id", peerHang: "ServerID", action: cutover.ActionRefused},
		{name: "peer hangs while fenced", peerHang: "SetReadOnly", peerWrites: true, action: cutover.ActionRefused},
		{name: "local hangs reading read_only", localHang: "ReadOnly", action: cutover.ActionFailed},
		{name: "local hangs reading replica status", localHang: "ReplicaStatus", action: cutover.ActionFailed},
		{name: "local hangs comparing positions", localHang: "HasApplied", action: cutover.ActionRefused},
		{name: "local hangs stopping the SQL thread", localHang: "StopApplier", action: cutover.ActionFailed},
		// After read_only is off: writable, and the detail says what to do.
		{name: "local hangs stopping the IO thread", localHang: "StopReplica", action: cutover.ActionPromoted, writable: true},
		{name: "local hangs unfencing", localHang: "SetReadOnly", action: cutover.ActionFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := &server{name: "b", dialect: db.MariaDB, ro: true, replica: replicaOf(1, "Yes"), applied: true, hang: map[string]bool{c.localHang: true}}
			peer := &server{name: "a", dialect: db.MariaDB, id: 1, ro: !c.peerWrites, pos: "0-1-10", hang: map[string]bool{c.peerHang: true}}
			opt := cutover.PromoteOptions{Unplanned: "refuse", CatchupTimeout: bound, FenceTimeout: bound, PeerTimeout: bound, QueryTimeout: bound}
			// The budget notify gives a whole event.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			out, err := cutover.Promote(ctx, local, peer, opt)
			took := time.Since(start)
			if took > 10*time.Second {
				t.Fatalf("Promote took %s with a per-query bound of %s: %s %s, %v", took, bound, out.Action, out.Detail, err)
			}
			if out.Action != c.action {
				t.Fatalf("%s (%s), %v; want %s", out.Action, out.Detail, err, c.action)
			}
			if local.state().Fenced() == c.writable {
				t.Fatalf("local writable %v, want %v", !local.state().Fenced(), c.writable)
			}
			if c.writable && !strings.Contains(out.Detail, "run STOP REPLICA") {
				t.Fatalf("detail %q does not say what to do", out.Detail)
			}
		})
	}
}

// follow bounds each query the same way.
func TestFollowBoundsEachQuery(t *testing.T) {
	const bound = 200 * time.Millisecond
	for _, hang := range []string{"ReadOnly", "ServerID", "HasApplied"} {
		t.Run("peer hangs in "+hang, func(t *testing.T) {
			local := &server{name: "a", dialect: db.MariaDB, ro: true, pos: "0-1-10"}
			peer := &server{name: "b", dialect: db.MariaDB, id: 2, pos: "0-1-10", applied: true, hang: map[string]bool{hang: true}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := cutover.Follow(ctx, local, peer, cutover.FollowOptions{Host: "192.0.2.2", Port: 3306, QueryTimeout: bound, PeerTimeout: bound}, io.Discard)
			if took := time.Since(start); err == nil || took > 10*time.Second {
				t.Fatalf("follow: %v after %s; want an error within about %s", err, took, bound)
			}
			if got := local.done(); got != "" {
				t.Fatalf("local did %q", got)
			}
		})
	}
}
