package cutover

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/peer"
)

// pendingFence writes a notify record whose fence did not land.
func pendingFence(t *testing.T, dir string) {
	t.Helper()
	db := &fenceFails{fakeDB: &fakeDB{name: "b"}, fails: -1}
	n := quietNotifier(dir, db)
	n.FenceAttempts = 1
	if r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP"}); err == nil || !r.FencePending {
		t.Fatalf("want a pending fence: %+v %v", r, err)
	}
}

func TestEvaluateGuardPendingFence(t *testing.T) {
	rw := db.ReadOnlyState{Dialect: db.MariaDB}
	ro := db.ReadOnlyState{Dialect: db.MariaDB, ReadOnly: true}
	cases := []struct {
		name      string
		f         GuardFacts
		ok, fence bool
		want      string
	}{
		{"writable without the VIP", GuardFacts{ReadOnly: rw, FencePending: true, PeerErr: errors.New("down")}, false, true, "notify's fence"},
		{"writable, VIP unreadable", GuardFacts{ReadOnly: rw, FencePending: true, VIPErr: errors.New("netlink")}, false, true, "notify's fence"},
		{"writable with the VIP", GuardFacts{ReadOnly: rw, FencePending: true, VIPHeld: true}, true, false, "holds the VIP"},
		{"read-only", GuardFacts{ReadOnly: ro, FencePending: true}, true, false, "not a write target"},
	}
	for _, c := range cases {
		v := evaluateGuard(c.f)
		if v.OK != c.ok || v.Fence != c.fence || !strings.Contains(v.Detail, c.want) {
			t.Errorf("%s: %+v; want ok=%v fence=%v containing %q", c.name, v, c.ok, c.fence, c.want)
		}
	}
}

// notify's fence failed: the guard fails, fences the writable server on a
// node without the VIP (though the peer cannot be asked), and settles the
// record.
func TestGuardCompletesAPendingFence(t *testing.T) {
	dir := t.TempDir()
	pendingFence(t, dir)
	local := &fakeDB{name: "b"}
	g := &SplitBrainGuard{Local: local, StateDir: dir, Held: func() (bool, error) { return false, nil }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := g.Check(ctx)
	if r.OK || !local.ro || !strings.Contains(r.Detail, "notify's fence") {
		t.Fatalf("%+v, read-only %v", r, local.ro)
	}
	if rec, _, _ := LoadRecord(dir); rec.FencePending || rec.Action != ActionFenced {
		t.Fatalf("record not settled: %+v", rec)
	}
}

// Without a VIP configured the guard enforces only notify's failed fence.
func TestGuardWithoutVIP(t *testing.T) {
	dir := t.TempDir()
	local := &fakeDB{name: "b"}
	g := &SplitBrainGuard{Local: local, StateDir: dir}
	if r := g.Check(context.Background()); !r.OK || local.ro {
		t.Fatalf("no pending fence: %+v", r)
	}
	pendingFence(t, dir)
	if r := g.Check(context.Background()); r.OK || !local.ro {
		t.Fatalf("pending fence: %+v, read-only %v", r, local.ro)
	}
}

// hangPeer is a peer hacheck that never answers (until the test ends).
func hangPeer(t *testing.T) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// The peer's hacheck hangs longer than the check may take (peer.timeout 2s
// = check_timeout): the guard does not pass a writable server without the
// VIP; the peer's server decides whether to fence, and the whole run,
// fence included, ends within the check's deadline.
func TestGuardSlowPeer(t *testing.T) {
	url := hangPeer(t)
	cases := []struct {
		name  string
		peer  *fakeDB // nil: peer.mysql_dsn not set
		fence bool
		want  string
	}{
		{"peer server writable", &fakeDB{name: "a"}, true, "SPLIT BRAIN"},
		{"peer server read-only", &fakeDB{name: "a", ro: true}, false, "not fencing on what is unknown"},
		{"peer server down", &fakeDB{name: "a", down: errors.New("connection refused")}, false, "connection refused"},
		{"no peer dsn", nil, false, "peer.mysql_dsn is not set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local := &fakeDB{name: "b"}
			g := &SplitBrainGuard{Local: local, PeerStatus: peer.Client{URL: url, Timeout: 2 * time.Second}.Status, Budget: 2 * time.Second,
				Held: func() (bool, error) { return false, nil }}
			if c.peer != nil {
				g.Peer = c.peer
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			r := g.Check(ctx)
			if ctx.Err() != nil {
				t.Fatalf("the guard overran the check's deadline: %+v", r)
			}
			if r.OK || local.ro != c.fence || !strings.Contains(r.Detail, c.want) {
				t.Fatalf("%+v; read-only %v, want fenced %v, detail containing %q", r, local.ro, c.fence, c.want)
			}
		})
	}
}

// peerHolding is a peer hacheck that reports it holds the VIP.
func peerHolding(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"node":"a","healthy":true,"state":{"state":"up"},"vip":{"held":true}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// hangFence is a server whose fence never answers before its context ends.
type hangFence struct{ *fakeDB }

func (h *hangFence) SetReadOnly(ctx context.Context, on bool) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestGuardFenceBudget(t *testing.T) {
	url := peerHolding(t)
	noVIP := func() (bool, error) { return false, nil }

	// A budget that cannot hold a fence: not attempted, and said so.
	local := &fakeDB{name: "b"}
	g := &SplitBrainGuard{Local: local, PeerStatus: peer.Client{URL: url}.Status, Budget: time.Second, Held: noVIP}
	r := g.Check(context.Background())
	if r.OK || local.ro || !strings.Contains(r.Detail, "SPLIT BRAIN") || !strings.Contains(r.Detail, "fence not attempted") {
		t.Fatalf("short budget: %+v, read-only %v", r, local.ro)
	}

	// A fence that does not answer in time: its outcome is unknown, not
	// "failed" (the statement may still land).
	g = &SplitBrainGuard{Local: &hangFence{&fakeDB{name: "b"}}, PeerStatus: peer.Client{URL: url}.Status, Budget: time.Second, FenceBudget: 200 * time.Millisecond, Held: noVIP}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r = g.Check(ctx)
	if r.OK || !strings.Contains(r.Detail, "fence outcome unknown") || strings.Contains(r.Detail, "FENCING FAILED") {
		t.Fatalf("hung fence: %+v", r)
	}

	// A fence the server refuses has failed.
	local = &fakeDB{name: "b", setROErr: errors.New("Access denied; you need the READ_ONLY ADMIN privilege")}
	g = &SplitBrainGuard{Local: local, PeerStatus: peer.Client{URL: url}.Status, Budget: time.Second, FenceBudget: 200 * time.Millisecond, Held: noVIP}
	if r := g.Check(ctx); r.OK || !strings.Contains(r.Detail, "FENCING FAILED: Access denied") {
		t.Fatalf("refused fence: %+v", r)
	}

	// The default check_timeout holds a fence.
	local = &fakeDB{name: "b"}
	g = &SplitBrainGuard{Local: local, PeerStatus: peer.Client{URL: url}.Status, Held: noVIP}
	if r := g.Check(context.Background()); r.OK || !local.ro || !strings.Contains(r.Detail, "fenced it") {
		t.Fatalf("default budget: %+v, read-only %v", r, local.ro)
	}
}
