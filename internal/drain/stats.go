package drain

import (
	"errors"
	"path/filepath"
	"slices"

	"github.com/hacheck/hacheck/internal/state"
)

// StatsName is the file, in the state directory, that accumulates every
// drain that did something (drained or refused; never a dry run): counts
// by outcome and a histogram of each phase's duration. A drain runs in
// its own process (the CLI) or in serve (the admin API); keeping the sums
// in the state directory lets serve export them as Prometheus counters and
// histograms that include both, and that survive a restart of serve.
const StatsName = "drain_stats.json"

// PhaseBuckets are the upper bounds, in seconds, of the phase histograms:
// from a flip (milliseconds) to a catch-up that runs into drain.timeout.
var PhaseBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Stats is the content of drain_stats.json.
type Stats struct {
	// Outcomes counts drains by outcome: drained or refused.
	Outcomes map[string]uint64 `json:"outcomes"`
	// Phases has one histogram per phase name, and "total" for the whole
	// drain.
	Phases map[string]*Histogram `json:"phases"`
}

// Histogram is a Prometheus-style histogram: Counts[i] is the number of
// observations <= Bounds[i] and not <= Bounds[i-1] (not cumulative);
// observations above the last bound are only in Count and Sum.
type Histogram struct {
	Bounds []float64 `json:"bounds"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
	Sum    float64   `json:"sum"`
}

// Cumulative returns the bucket counts keyed by upper bound, as
// prometheus.MustNewConstHistogram wants them.
func (h *Histogram) Cumulative() map[float64]uint64 {
	m := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		m[b] = n
	}
	return m
}

func (h *Histogram) observe(v float64) {
	h.Count++
	h.Sum += v
	if i, _ := slices.BinarySearch(h.Bounds, v); i < len(h.Bounds) {
		h.Counts[i]++
	}
}

// Add counts one drain record in s. A histogram kept with other bounds
// (an older hacheck) starts over rather than mixing bucket layouts.
func (s *Stats) Add(r Record) {
	if s.Outcomes == nil {
		s.Outcomes = map[string]uint64{}
	}
	if s.Phases == nil {
		s.Phases = map[string]*Histogram{}
	}
	s.Outcomes[r.Outcome]++
	add := func(name string, v float64) {
		h := s.Phases[name]
		if h == nil || !slices.Equal(h.Bounds, PhaseBuckets) || len(h.Counts) != len(h.Bounds) {
			h = &Histogram{Bounds: slices.Clone(PhaseBuckets), Counts: make([]uint64, len(PhaseBuckets))}
			s.Phases[name] = h
		}
		h.observe(v)
	}
	for _, p := range r.Phases {
		add(p.Name, p.Seconds)
	}
	add("total", r.Total)
}

// AddStats adds one drain record to drain_stats.json under the state lock,
// so drains of several processes never lose a count.
func AddStats(st state.Store, r Record) error {
	return st.Locked(func() error {
		s, _, err := LoadStats(st)
		if err != nil {
			s = Stats{} // unreadable: start over rather than never count again
		}
		s.Add(r)
		return state.SaveJSON(filepath.Join(st.Dir, StatsName), s)
	})
}

// LoadStats reads drain_stats.json; ok is false when no drain was counted
// yet.
func LoadStats(st state.Store) (s Stats, ok bool, err error) {
	ok, err = state.LoadJSON(filepath.Join(st.Dir, StatsName), &s)
	return s, ok, err
}

// Counted says whether a drain goes into last_drain.json and
// drain_stats.json: one that drained or was refused, never a dry run (a
// refused dry run is an answer to a question, not a failed drain) and
// never one that could not even take the operation lock.
func Counted(opt Options, res Result, err error) bool {
	if opt.DryRun {
		return false
	}
	return res.Outcome == Drained || res.Outcome == Refused && !errors.Is(err, state.ErrBusy)
}
