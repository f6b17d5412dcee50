package drain

import (
	"context"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
)

func TestCounted(t *testing.T) {
	busy := fmt.Errorf("take lock: %w", state.ErrBusy)
	tests := []struct {
		name string
		opt  Options
		out  Outcome
		err  error
		want bool
	}{
		{"drained", Options{}, Drained, nil, true},
		{"refused", Options{}, Refused, ErrRefused, true},
		{"lock busy", Options{}, Refused, busy, false},
		{"already drained", Options{}, AlreadyDrained, nil, false},
		{"dry run passed", Options{DryRun: true}, DryRunPassed, nil, false},
		{"dry run refused", Options{DryRun: true}, Refused, ErrRefused, false},
	}
	for _, tt := range tests {
		if got := Counted(tt.opt, Result{Outcome: tt.out}, tt.err); got != tt.want {
			t.Errorf("%s: Counted = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStatsAdd(t *testing.T) {
	var s Stats
	s.Add(Record{Outcome: "drained", Phases: []PhaseRecord{{"flip", 0.003}}, Total: 0.7})
	s.Add(Record{Outcome: "refused", Phases: []PhaseRecord{{"flip", 0.01}}, Total: 100})
	if s.Outcomes["drained"] != 1 || s.Outcomes["refused"] != 1 {
		t.Fatalf("outcomes %v", s.Outcomes)
	}
	flip := s.Phases["flip"]
	if flip.Count != 2 || math.Abs(flip.Sum-0.013) > 1e-9 {
		t.Fatalf("flip %+v", flip)
	}
	c := flip.Cumulative()
	if c[0.005] != 1 || c[0.01] != 2 || c[60] != 2 {
		t.Errorf("flip buckets %v (0.01 belongs in the 0.01 bucket: le is inclusive)", c)
	}
	total := s.Phases["total"]
	if total.Count != 2 || total.Cumulative()[60] != 1 {
		t.Errorf("total %+v: 100 s is above every bucket, counted only in +Inf", total)
	}
	// Other bounds (an older layout) start over.
	s.Phases["flip"].Bounds = []float64{1}
	s.Add(Record{Outcome: "drained", Phases: []PhaseRecord{{"flip", 0.003}}})
	if s.Phases["flip"].Count != 1 {
		t.Errorf("flip kept a foreign layout: %+v", s.Phases["flip"])
	}
}

// A dry run never counts: a refused `drain --dry-run` must not make the
// last drain look failed (hacheck_last_drain_success 0 would page someone).
func TestDryRunIsNeverRecorded(t *testing.T) {
	st := upStore(t)
	refuse := Plan{Preconditions: []check.Precondition{fakePre{"replica-lag", false}}, PreconditionTimeout: time.Second}
	if res, err := Run(context.Background(), st, refuse, Options{DryRun: true}, io.Discard); res.Outcome != Refused || err == nil {
		t.Fatalf("dry run: %+v %v, want refused", res, err)
	}
	if _, ok, _ := LoadRecord(st); ok {
		t.Fatal("a refused dry run wrote last_drain.json")
	}
	if _, ok, _ := LoadStats(st); ok {
		t.Fatal("a refused dry run was counted in drain_stats.json")
	}

	// A real refusal and a real drain both count.
	if res, _ := Run(context.Background(), st, refuse, Options{}, io.Discard); res.Outcome != Refused {
		t.Fatalf("refusal: %+v", res)
	}
	if res, err := Run(context.Background(), st, Plan{PreconditionTimeout: time.Second}, Options{}, io.Discard); res.Outcome != Drained {
		t.Fatalf("drain: %+v %v", res, err)
	}
	s, ok, err := LoadStats(st)
	if !ok || err != nil || s.Outcomes["refused"] != 1 || s.Outcomes["drained"] != 1 {
		t.Fatalf("stats %+v ok=%v err=%v", s, ok, err)
	}
	if s.Phases["preconditions"].Count != 2 || s.Phases["flip"].Count != 1 || s.Phases["total"].Count != 2 {
		t.Errorf("phase counts: preconditions %d flip %d total %d", s.Phases["preconditions"].Count, s.Phases["flip"].Count, s.Phases["total"].Count)
	}
	if rec, _, _ := LoadRecord(st); rec.Outcome != "drained" {
		t.Errorf("last record %+v", rec)
	}
}
