// Package check holds hacheck's health checks and drain preconditions.
//
// A check is anything that can answer "is this part of the node fine right
// now?" within a deadline. Checks return plain data (Result); deciding what a
// result means for keepalived, HTTP or a terminal is the caller's job.
package check

import (
	"context"
	"fmt"
	"time"
)

// Result is the outcome of one check run. It is plain data: reporting it as
// an exit code, an HTTP status or a log line happens elsewhere.
type Result struct {
	Name   string        `json:"name"`
	OK     bool          `json:"ok"`
	Detail string        `json:"detail"`
	Took   time.Duration `json:"took_ns"`
	At     time.Time     `json:"at"`
}

// Checker is one live check. Check must return within ctx's deadline and
// must be safe to call from several goroutines (and processes) at once.
type Checker interface {
	Name() string
	Check(ctx context.Context) Result
}

// Run calls c with a deadline of timeout (when > 0) and fills in Name, Took
// and At. A check that overruns its deadline, or returns OK after the
// deadline passed, is reported as failed: hacheck never reports healthy
// because it could not look.
func Run(ctx context.Context, c Checker, timeout time.Duration) Result {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	done := make(chan Result, 1)
	go func() { done <- c.Check(ctx) }()
	var r Result
	select {
	case r = <-done:
		if r.OK && ctx.Err() != nil {
			r = Result{OK: false, Detail: fmt.Sprintf("answered after its deadline (%v)", ctx.Err())}
		}
	case <-ctx.Done():
		r = Result{OK: false, Detail: fmt.Sprintf("no answer before its deadline (%s)", roundDur(time.Since(start)))}
		if ctx.Err() == context.Canceled {
			r.Detail = "cancelled before it answered"
		}
	}
	r.Name = c.Name()
	r.Took = time.Since(start)
	r.At = start
	return r
}

// RunAll runs every checker concurrently, each with its own timeout, and
// returns the results in the order of checkers.
func RunAll(ctx context.Context, checkers []Checker, timeouts []time.Duration) []Result {
	results := make([]Result, len(checkers))
	done := make(chan struct{}, len(checkers))
	for i, c := range checkers {
		go func() {
			var t time.Duration
			if i < len(timeouts) {
				t = timeouts[i]
			}
			results[i] = Run(ctx, c, t)
			done <- struct{}{}
		}()
	}
	for range checkers {
		<-done
	}
	return results
}

// AllOK reports whether every result passed. An empty list passes: a node
// with no live checks is judged by its state alone.
func AllOK(results []Result) bool {
	for _, r := range results {
		if !r.OK {
			return false
		}
	}
	return true
}

func roundDur(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
