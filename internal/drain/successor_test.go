package drain

import (
	"errors"
	"strings"
	"testing"
)

func cand(name string, missing int64, prio int) Candidate {
	return Candidate{Name: name, ReportedName: name, State: "up", Healthy: true, Replica: true,
		Position: "0-1-1000", Missing: missing, Priority: prio, Nopreempt: true, KeepalivedKnown: true}
}

func TestChoose(t *testing.T) {
	with := func(c Candidate, f func(*Candidate)) Candidate { f(&c); return c }
	b, c := cand("node-b", 0, 253), cand("node-c", 57, 252)
	cases := []struct {
		name  string
		cands []Candidate
		to    string
		want  string // chosen name, or "" for a refusal
		why   string // in the choice's reason or the refusal
	}{
		{"--to", []Candidate{b, c}, "node-c", "node-c", "chosen with --to"},
		{"most up to date", []Candidate{c, b}, "", "node-b", "most up to date: 0-1-1000; node-c lacks 57 transactions"},
		{"tie: priority", []Candidate{cand("node-b", 0, 252), cand("node-c", 0, 253)}, "", "node-c", "higher keepalived priority 253 > 252"},
		{"tie: name", []Candidate{cand("node-c", 0, 252), cand("node-b", 0, 252)}, "", "node-b", "first by name"},
		{"unknown lag sorts last", []Candidate{with(b, func(x *Candidate) { x.Missing = -1 }), c}, "", "node-c", "node-b lacks"},
		{"unknown name", []Candidate{b, c}, "node-x", "", `unknown successor "node-x": the peers are node-b, node-c`},
		{"not a replica", []Candidate{b, with(c, func(x *Candidate) { x.Replica, x.ReplicaDetail = false, "replicates from server_id 9" })}, "node-c", "", "node-c is not a running GTID replica of this server: replicates from server_id 9"},
		{"drained", []Candidate{b, with(c, func(x *Candidate) { x.State, x.Reason = "drained", "kernel" })}, "node-c", "", `node-c is "drained", not up`},
		{"not healthy", []Candidate{b, with(c, func(x *Candidate) { x.Healthy, x.Reason = false, "check db failed" })}, "node-c", "", "node-c is up but not healthy: check db failed"},
		{"held", []Candidate{b, with(c, func(x *Candidate) { x.Held = "held for move to node-d by node-e until T" })}, "node-c", "", "node-c is held for move to node-d"},
		{"unreachable successor", []Candidate{b, with(c, func(x *Candidate) { x.Unreachable = "connection refused" })}, "node-c", "", "node-c cannot be reached: connection refused"},
		{"unreachable other", []Candidate{with(b, func(x *Candidate) { x.Unreachable = "timeout" }), c}, "node-c", "", "node-b cannot be reached (timeout): it cannot be held"},
		{"wrong node behind the url", []Candidate{b, with(c, func(x *Candidate) { x.ReportedName = "node-b" })}, "node-c", "", `node-c's url answers as node "node-b"`},
		{"preempt without nopreempt", []Candidate{with(b, func(x *Candidate) { x.Nopreempt = false }), c}, "node-c", "", "node-b (priority 253, no nopreempt) would take the VIP back from node-c (priority 252)"},
		{"lower priority without nopreempt is fine", []Candidate{with(c, func(x *Candidate) { x.Nopreempt = false }), b}, "node-b", "node-b", "chosen with --to"},
		{"drained other needs no nopreempt", []Candidate{with(b, func(x *Candidate) { x.Nopreempt, x.State = false, "drained" }), c}, "node-c", "node-c", "chosen with --to"},
		{"another peer's url answers as the successor", []Candidate{with(b, func(x *Candidate) { x.ReportedName = "node-c" }), c}, "node-c", "", `node-b's url answers as node "node-c"`},
		{"keepalived unknown", []Candidate{with(b, func(x *Candidate) { x.KeepalivedKnown = false }), c}, "node-c", "", "node-b reports no keepalived settings"},
		{"auto skips the one others would preempt", []Candidate{with(b, func(x *Candidate) { x.Nopreempt = false }), c}, "", "node-b", "the only peer that can take over"},
		{"auto: nobody", []Candidate{with(b, func(x *Candidate) { x.State = "drained" }), with(c, func(x *Candidate) { x.Replica = false })}, "", "", "no peer can take over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Choose(tc.cands, tc.to)
			if tc.want == "" {
				if err == nil || !errors.Is(err, ErrNoSuccessor) || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("want a refusal saying %q, got %+v, %v", tc.why, got, err)
				}
				return
			}
			if err != nil || got.Name != tc.want || !strings.Contains(got.Why, tc.why) {
				t.Fatalf("want %s (%q), got %+v, %v", tc.want, tc.why, got, err)
			}
			if !strings.HasPrefix(got.Line(), "successor: "+tc.want+" (") {
				t.Errorf("line %q", got.Line())
			}
		})
	}
}
