package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hacheck/hacheck/check"
)

// Monitor runs each check on its own interval in the background and keeps
// the latest result, so `serve` answers from memory: however many load
// balancers poll, each dependency sees one round of checks per interval.
//
// A result older than StaleAfter intervals counts as failed, so a check
// that hangs (or a monitor that stopped) can never keep looking healthy.
type Monitor struct {
	entries    []Entry
	staleAfter int
	onResult   func(check.Result)

	mu     sync.RWMutex
	latest []check.Result // zero At: not run yet
}

// NewMonitor prepares a monitor; Run starts it. onResult, when not nil, is
// called after every run of a check (for metrics and logs).
func NewMonitor(entries []Entry, staleAfter int, onResult func(check.Result)) *Monitor {
	return &Monitor{entries: entries, staleAfter: staleAfter, onResult: onResult, latest: make([]check.Result, len(entries))}
}

// Run runs the checks until ctx ends. Each check runs at once, then every
// Interval. Runs of one check are sequential in the monitor; a check that
// ignores its context and hangs is abandoned at its timeout (reported
// failed) and may still be running when the next run starts.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i, e := range m.entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(e.Interval)
			defer t.Stop()
			for {
				r := check.Run(ctx, e.Checker, e.Timeout)
				if ctx.Err() != nil {
					return
				}
				m.mu.Lock()
				m.latest[i] = r
				m.mu.Unlock()
				if m.onResult != nil {
					m.onResult(r)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

// Snapshot returns the latest result of every check as of now, with its
// age; a missing or stale result is reported as failed, saying why.
func (m *Monitor) Snapshot(now time.Time) []CheckReport {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]CheckReport, len(m.entries))
	for i, e := range m.entries {
		r := m.latest[i]
		if r.At.IsZero() {
			out[i] = CheckReport{Result: check.Result{Name: e.Checker.Name(), Detail: "no result yet"}, Stale: true}
			continue
		}
		age := now.Sub(r.At)
		rep := CheckReport{Result: r, Age: age}
		if limit := m.staleLimit(e); age > limit {
			rep.Stale = true
			rep.OK = false
			rep.Detail = fmt.Sprintf("stale: last result %s old, limit %s (last said: %s)", age.Round(time.Millisecond), limit, r.Detail)
		}
		out[i] = rep
	}
	return out
}

// staleLimit is the age past which a result of e counts as failed. A
// result is as old as the moment its run started, so the run's timeout is
// allowed on top of the intervals.
func (m *Monitor) staleLimit(e Entry) time.Duration {
	return time.Duration(m.staleAfter)*e.Interval + e.Timeout
}

// AllOK reports whether every check's latest result passed and is fresh:
// the same judgement as Snapshot, without allocating, for the hot path of
// /healthz.
func (m *Monitor) AllOK(now time.Time) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, e := range m.entries {
		r := m.latest[i]
		if !r.OK || r.At.IsZero() || now.Sub(r.At) > m.staleLimit(e) {
			return false
		}
	}
	return true
}
