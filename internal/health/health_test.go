package health

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
)

func TestVerdict(t *testing.T) {
	up := state.State{Version: 1, State: state.Up}
	drained := state.State{Version: 1, State: state.Drained, Reason: "maint", ChangedBy: "bob@a"}
	pass := check.Result{Name: "a", OK: true}
	fail := check.Result{Name: "b", Detail: "refused"}
	cases := []struct {
		name    string
		st      state.State
		err     error
		results []check.Result
		healthy bool
		reason  string
	}{
		{"up no checks", up, nil, nil, true, "up"},
		{"up all pass", up, nil, []check.Result{pass, pass}, true, "all 2 checks passed"},
		{"up one fails", up, nil, []check.Result{pass, fail}, false, "check b failed: refused"},
		{"drained", drained, nil, nil, false, "drained by bob@a"},
		{"drained checks pass", drained, nil, []check.Result{pass}, false, "maint"},
		{"state error", up, errors.New("state file missing"), []check.Result{pass}, false, "state: state file missing"},
	}
	for _, c := range cases {
		ok, reason := Verdict(c.st, c.err, c.results)
		if ok != c.healthy || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: got %v %q, want %v containing %q", c.name, ok, reason, c.healthy, c.reason)
		}
	}
}

type counting struct {
	n     atomic.Int32
	block chan struct{} // when not nil, Check waits on it
}

func (c *counting) Name() string { return "counting" }
func (c *counting) Check(ctx context.Context) check.Result {
	c.n.Add(1)
	if c.block != nil {
		select {
		case <-c.block:
		case <-ctx.Done():
			return check.Result{Detail: "timed out"}
		}
	}
	return check.Result{OK: true, Detail: "fine"}
}

func TestMonitorRunsOnItsIntervalNotPerRequest(t *testing.T) {
	c := &counting{}
	m := NewMonitor([]Entry{{Checker: c, Timeout: time.Second, Interval: 50 * time.Millisecond}}, 3, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	for range 10000 {
		m.Snapshot(time.Now()) // many "requests"
	}
	time.Sleep(260 * time.Millisecond)
	cancel()
	<-done
	if n := c.n.Load(); n < 3 || n > 8 {
		t.Fatalf("check ran %d times in ~260ms at a 50ms interval", n)
	}
}

func TestMonitorStaleResultFails(t *testing.T) {
	c := &counting{}
	m := NewMonitor([]Entry{{Checker: c, Timeout: 10 * time.Millisecond, Interval: 20 * time.Millisecond}}, 2, nil)
	if s := m.Snapshot(time.Now()); s[0].OK || !strings.Contains(s[0].Detail, "no result yet") {
		t.Fatalf("before the first run: %+v", s[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.Run(withOneRound(ctx, cancel))
	s := m.Snapshot(time.Now())
	if !s[0].OK {
		t.Fatalf("fresh result: %+v", s[0])
	}
	// 2 intervals + the timeout later, the same result is stale.
	s = m.Snapshot(time.Now().Add(100 * time.Millisecond))
	if s[0].OK || !s[0].Stale || !strings.Contains(s[0].Detail, "stale") {
		t.Fatalf("old result still passes: %+v", s[0])
	}
}

// withOneRound cancels ctx shortly after the first round has run.
func withOneRound(ctx context.Context, cancel context.CancelFunc) context.Context {
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	return ctx
}

func TestMonitorHungCheckBecomesStale(t *testing.T) {
	c := &counting{block: make(chan struct{})}
	defer close(c.block)
	// check.Run bounds the hung check by its timeout, so it reports failure.
	m := NewMonitor([]Entry{{Checker: c, Timeout: 30 * time.Millisecond, Interval: 20 * time.Millisecond}}, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	go m.Run(ctx)
	time.Sleep(80 * time.Millisecond)
	if s := m.Snapshot(time.Now()); s[0].OK {
		t.Fatalf("a hung check reported OK: %+v", s[0])
	}
}

// AllOK (the allocation-free path of /healthz) must judge exactly as the
// checks' part of Verdict does over Snapshot, fresh, failed, stale and
// never-run results alike.
func TestAllOKAgreesWithSnapshot(t *testing.T) {
	now := time.Now()
	entries := []Entry{
		{Checker: &counting{}, Timeout: time.Second, Interval: time.Second},
		{Checker: &counting{}, Timeout: time.Second, Interval: time.Second},
	}
	results := []check.Result{
		{},                                     // never run
		{OK: true, At: now.Add(-time.Second)},  // fresh pass
		{OK: false, At: now.Add(-time.Second)}, // fresh fail
		{OK: true, At: now.Add(-5 * time.Second)},         // stale pass (limit 3*1s+1s = 4s)
		{OK: true, At: now.Add(-3900 * time.Millisecond)}, // just fresh
	}
	for _, a := range results {
		for _, b := range results {
			m := NewMonitor(entries, 3, nil)
			m.latest[0], m.latest[1] = a, b
			snap := m.Snapshot(now)
			var rs []check.Result
			for _, c := range snap {
				rs = append(rs, c.Result)
			}
			want, _ := Verdict(state.State{Version: 1, State: state.Up}, nil, rs)
			if got := m.AllOK(now); got != want {
				t.Errorf("results %+v / %+v: AllOK=%v, Verdict over Snapshot=%v", a, b, got, want)
			}
		}
	}
}
