package cutover

import (
	"errors"
	"slices"
	"strings"
	"testing"
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
