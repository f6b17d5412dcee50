package cutover

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/vip"
)

// What several peers say, merged, decides the guard as one peer would:
// the most dangerous answer wins.
func TestMergePeerFacts(t *testing.T) {
	rw := db.ReadOnlyState{Dialect: db.MariaDB}
	ro := db.ReadOnlyState{Dialect: db.MariaDB, ReadOnly: true}
	report := func(name string, held bool) health.Report {
		return health.Report{Node: name, VIP: &vip.Status{Address: netip.MustParsePrefix("192.0.2.100/24"), Held: held}}
	}
	peer := func(name string, held bool, srv db.ReadOnlyState, ahead bool) GuardFacts {
		return GuardFacts{Peer: report(name, held), PeerDBAsked: true, PeerServer: name, PeerDB: srv, PeerAhead: ahead}
	}
	cases := []struct {
		name      string
		each      []GuardFacts
		ok, fence bool
		want      string
	}{
		{"bootstrap: no VIP anywhere, every peer read-only", []GuardFacts{peer("b", false, ro, false), peer("c", false, ro, false)}, true, false, "rightful claimant"},
		{"one peer holds the VIP", []GuardFacts{peer("b", false, ro, false), peer("c", true, rw, false)}, false, true, "SPLIT BRAIN: writable (read_only=OFF) while peer c holds the VIP"},
		{"one peer's server writable", []GuardFacts{peer("b", false, rw, false), peer("c", false, ro, false)}, false, true, "SPLIT BRAIN"},
		{"one peer ahead", []GuardFacts{peer("b", false, ro, false), peer("c", false, ro, true)}, false, true, "STALE EX-PRIMARY"},
		{"one peer's hacheck down", []GuardFacts{peer("b", false, ro, false), {PeerErr: errors.New("connection refused"), PeerDBAsked: true, PeerDB: ro}}, false, false, "connection refused"},
		{"one peer's server down", []GuardFacts{peer("b", false, ro, false), {Peer: report("c", false), PeerDBAsked: true, PeerDBErr: errors.New("timeout")}}, false, false, "timeout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := GuardFacts{ReadOnly: rw}
			mergePeerFacts(&f, c.each)
			v := evaluateGuard(f)
			if v.OK != c.ok || v.Fence != c.fence || !strings.Contains(v.Detail, c.want) {
				t.Fatalf("got ok %v fence %v %q; want ok %v fence %v %q", v.OK, v.Fence, v.Detail, c.ok, c.fence, c.want)
			}
		})
	}
}
