package cutover

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	hamysql "github.com/hacheck/hacheck/check/mysql"
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
	rw := hamysql.ReadOnlyState{Dialect: hamysql.MariaDB}
	ro := hamysql.ReadOnlyState{Dialect: hamysql.MariaDB, ReadOnly: true}
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
