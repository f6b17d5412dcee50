package health

import (
	"context"
	"errors"
	"strings"
	"sync"
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

// Polls read results; they never trigger a check. However hard /healthz
// is polled, a check runs at most once per interval (plus the first run).
func TestMonitorRunsOnItsIntervalNotPerRequest(t *testing.T) {
	c := &counting{}
	const interval = 50 * time.Millisecond
	m := NewMonitor([]Entry{{Checker: c, Timeout: time.Second, Interval: interval}}, 3, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { m.Run(ctx); close(done) }()
	var polls atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for time.Since(start) < 300*time.Millisecond {
				m.Snapshot(time.Now())
				m.AllOK(time.Now())
				polls.Add(1)
			}
		})
	}
	wg.Wait()
	cancel()
	<-done
	elapsed := time.Since(start)
	n, max := c.n.Load(), int32(elapsed/interval)+1
	if n < 1 || n > max {
		t.Fatalf("check ran %d times in %s at a %s interval (at most %d) during %d polls", n, elapsed, interval, max, polls.Load())
	}
}

// startUntil starts a monitor and returns once it has produced want results
// (reported through onResult); the caller stops it with the returned
// function, which waits for Run to return.
func startUntil(t *testing.T, entries []Entry, staleAfter int, want int) (*Monitor, func()) {
	t.Helper()
	got := make(chan check.Result, 100)
	m := NewMonitor(entries, staleAfter, func(r check.Result) { got <- r })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	for i := 0; i < want; i++ {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			stop()
			t.Fatalf("monitor produced %d of %d results", i, want)
		}
	}
	return m, stop
}

// A result that is no longer refreshed (the monitor stopped, or its
// goroutine is stuck) turns into a failure once it is older than
// stale_after intervals plus the timeout.
func TestMonitorStaleResultFails(t *testing.T) {
	c := &counting{}
	e := Entry{Checker: c, Timeout: 10 * time.Millisecond, Interval: 20 * time.Millisecond}
	if s := NewMonitor([]Entry{e}, 2, nil).Snapshot(time.Now()); s[0].OK || !strings.Contains(s[0].Detail, "no result yet") {
		t.Fatalf("before the first run: %+v", s[0])
	}
	m, stop := startUntil(t, []Entry{e}, 2, 1)
	stop() // no more refreshes from here on
	at := m.latest[0].At
	limit := 2*e.Interval + e.Timeout
	if s := m.Snapshot(at.Add(limit)); !s[0].OK || !m.AllOK(at.Add(limit)) {
		t.Fatalf("result at its age limit already failed: %+v", s[0])
	}
	s := m.Snapshot(at.Add(limit + time.Millisecond))
	if s[0].OK || !s[0].Stale || !strings.Contains(s[0].Detail, "stale") || m.AllOK(at.Add(limit+time.Millisecond)) {
		t.Fatalf("result past its age limit still passes: %+v", s[0])
	}
}

// hangsAfterFirst passes once, then hangs, ignoring its context as a buggy
// check might.
type hangsAfterFirst struct {
	n       atomic.Int32
	release chan struct{}
}

func (h *hangsAfterFirst) Name() string { return "hangs" }
func (h *hangsAfterFirst) Check(context.Context) check.Result {
	if h.n.Add(1) == 1 {
		return check.Result{OK: true, Detail: "fine"}
	}
	<-h.release
	return check.Result{OK: true, Detail: "too late"}
}

// A check that passed and then hangs is reported failed at its timeout:
// the earlier pass does not keep the node healthy.
func TestMonitorHungCheckFailsAtItsTimeout(t *testing.T) {
	h := &hangsAfterFirst{release: make(chan struct{})}
	defer close(h.release)
	m, stop := startUntil(t, []Entry{{Checker: h, Timeout: 30 * time.Millisecond, Interval: 20 * time.Millisecond}}, 3, 2)
	defer stop()
	s := m.Snapshot(time.Now())
	if s[0].OK || !strings.Contains(s[0].Detail, "deadline") || m.AllOK(time.Now()) {
		t.Fatalf("a hung check is not reported failed at its timeout: %+v", s[0])
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
