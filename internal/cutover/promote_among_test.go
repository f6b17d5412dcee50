package cutover

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

func TestPlanAmong(t *testing.T) {
	down := errors.New("connection refused")
	a := PeerServerFact{Name: "a", ServerID: 1}
	b := PeerServerFact{Name: "b", ServerID: 2}
	aDown := PeerServerFact{Name: "a", Err: down}
	bDown := PeerServerFact{Name: "b", Err: down}
	cases := []struct {
		name        string
		replicating bool
		sourceID    uint32
		facts       []PeerServerFact
		source      int
		others      []int
		refuse      string
	}{
		{"replica of a, b reachable", true, 1, []PeerServerFact{b, a}, 1, []int{0}, ""},
		{"replica of a, b down: skipped", true, 1, []PeerServerFact{a, bDown}, 0, nil, ""},
		{"source down: handed over for promote.unplanned", true, 1, []PeerServerFact{aDown, b}, 0, []int{1}, ""},
		{"unknown source", true, 9, []PeerServerFact{a, b}, -1, nil, "replicates from server_id 9, which is none of the peers"},
		{"not replicating: first reachable", false, 0, []PeerServerFact{aDown, b}, 1, nil, ""},
		{"not replicating, all down", false, 0, []PeerServerFact{aDown, bDown}, 0, nil, ""},
		{"replicating, source id not yet known", true, 0, []PeerServerFact{a, b}, 0, []int{1}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanAmong(c.replicating, c.sourceID, c.facts)
			if c.refuse != "" {
				if !strings.Contains(p.Refuse, c.refuse) {
					t.Fatalf("want a refusal %q, got %+v", c.refuse, p)
				}
				return
			}
			if p.Refuse != "" || p.Source != c.source || !slices.Equal(p.Others, c.others) {
				t.Fatalf("got %+v, want source %d others %v", p, c.source, c.others)
			}
		})
	}
}

// PromoteAmong on fake servers: C replicates from A; B is the other peer.
func TestPromoteAmong(t *testing.T) {
	opt := PromoteOptions{Unplanned: "refuse", CatchupTimeout: time.Second, FenceTimeout: time.Second, PeerTimeout: time.Second, QueryTimeout: time.Second}
	cases := []struct {
		name   string
		setup  func(c, a, b *fakeDB)
		action string
		want   string
		bLog   string
	}{
		{"planned move: B read-only and applied", func(c, a, b *fakeDB) {}, ActionPromoted, "the other peers are read-only and applied here: b", ""},
		{"B writable: fenced first", func(c, a, b *fakeDB) { b.ro = false }, ActionPromoted, "applied here: b", "fence"},
		{"B writable and cannot be fenced", func(c, a, b *fakeDB) { b.ro, b.setROErr = false, errors.New("lock wait timeout") }, ActionRefused, "peer b is writable and could not be fenced", ""},
		{"B ahead and C does not catch up", func(c, a, b *fakeDB) { c.applied, c.waitErr = false, errors.New("gtid wait timed out") }, ActionRefused, "has not applied peer b's position", ""},
		{"C does not replicate and lacks B's", func(c, a, b *fakeDB) { c.replica, c.applied = nil, false }, ActionRefused, "DIVERGED", ""},
		{"C replicates from a server that is no peer", func(c, a, b *fakeDB) { c.replica = running(9) }, ActionRefused, "server_id 9, which is none of the peers", ""},
		{"B down: skipped", func(c, a, b *fakeDB) { b.down = errors.New("connection refused") }, ActionPromoted, "is writable", ""},
		{"A down: promote.unplanned", func(c, a, b *fakeDB) { a.down = errors.New("connection refused") }, ActionRefused, "cannot be reached", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeDB{name: "c", dialect: db.MariaDB, id: 3, ro: true, replica: running(1), applied: true, pos: "0-1-10"}
			a := &fakeDB{name: "a", dialect: db.MariaDB, id: 1, ro: true, applied: true, pos: "0-1-10"}
			b := &fakeDB{name: "b", dialect: db.MariaDB, id: 2, ro: true, applied: true, pos: "0-1-9", replica: running(1)}
			tc.setup(c, a, b)
			out, _ := PromoteAmong(context.Background(), c, []DB{a, b}, opt)
			if out.Action != tc.action || !strings.Contains(out.Detail, tc.want) {
				t.Fatalf("got %s: %s; want %s saying %q", out.Action, out.Detail, tc.action, tc.want)
			}
			if got := strings.Join(b.log, ","); got != tc.bLog {
				t.Errorf("on B: %q, want %q", got, tc.bLog)
			}
			if tc.action == ActionPromoted && c.ro {
				t.Errorf("promoted but read-only")
			}
			if tc.action != ActionPromoted && !c.ro {
				t.Errorf("refused but writable")
			}
		})
	}
}
