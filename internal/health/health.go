// Package health decides the one verdict that `hacheck check`, `/healthz`
// and `status` all report: the node is healthy only when its state is a
// readable "up" and every live check passes. It also runs checks on their
// schedule for `serve` (Monitor) and once for the one-shot commands
// (Evaluate). Which checks a node has is decided in internal/node.
package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// Entry is one configured checker with its schedule.
type Entry struct {
	Checker  check.Checker
	Timeout  time.Duration
	Interval time.Duration
}

// MySQLStatus is the last database decision on this node, as shown by
// status and /status: the last keepalived event applied by `hacheck
// notify` (or `hacheck promote`) and what it did.
type MySQLStatus struct {
	Seq      uint64 `json:"seq"`
	Event    string `json:"event"`  // MASTER, BACKUP, FAULT, STOP, or PROMOTE (manual)
	Action   string `json:"action"` // promoted, writable, fenced, refused, ignored, failed
	Detail   string `json:"detail"`
	ReadOnly *bool  `json:"read_only,omitempty"`
	// Diverged: the decision found the peer's server ahead of this one
	// while this one did not replicate (caught up first, or refused).
	Diverged bool      `json:"diverged,omitempty"`
	At       time.Time `json:"at"`
}

// Keepalived is the first vrrp_instance of this node's keepalived.config,
// as hacheck parsed it.
type Keepalived struct {
	Config    string `json:"config"`
	Instance  string `json:"instance,omitempty"`
	Priority  int    `json:"priority,omitempty"`
	Nopreempt bool   `json:"nopreempt"`
	Error     string `json:"error,omitempty"` // the file could not be read or has no vrrp_instance
}

// CheckReport is one check's latest result as reported by status.
type CheckReport struct {
	check.Result
	Age   time.Duration `json:"age_ns"`
	Stale bool          `json:"stale,omitempty"`
}

// Report is the node's full health picture: the body of GET /status and
// of `hacheck status --json`.
type Report struct {
	Node       string        `json:"node"`
	Healthy    bool          `json:"healthy"`
	Reason     string        `json:"reason"`
	State      *state.State  `json:"state"`
	StateError string        `json:"state_error,omitempty"`
	Checks     []CheckReport `json:"checks"`
	VIP        *vip.Status   `json:"vip,omitempty"`
	MySQL      *MySQLStatus  `json:"mysql,omitempty"`
	Drain      *DrainStatus  `json:"drain,omitempty"`
	// Role is this node's database role as read now (not as recorded).
	Role *Role `json:"role,omitempty"`
	// Keepalived is what this node's keepalived.conf says of its election
	// (priority, nopreempt); a move among several nodes compares them.
	Keepalived *Keepalived `json:"keepalived,omitempty"`
	At         time.Time   `json:"at"`
}

// Verdict decides health from a state load and check results, and says why
// in one line.
func Verdict(st state.State, stErr error, results []check.Result) (healthy bool, reason string) {
	if stErr != nil {
		return false, "state: " + stErr.Error()
	}
	if !st.IsUp() {
		why := fmt.Sprintf("drained by %s at %s", st.ChangedBy, st.ChangedAt.Format(time.RFC3339))
		if st.Reason != "" {
			why += ": " + st.Reason
		}
		return false, why
	}
	if st.Stale != nil {
		return false, fmt.Sprintf("stale ex-primary since %s (%s): this server may lack the new primary's writes; run `hacheck follow`",
			st.Stale.Since.Format(time.RFC3339), st.Stale.Why)
	}
	if st.Hold.ActiveAt(time.Now()) {
		return false, st.Hold.String() + ": only the successor may take the VIP while the primary moves (the hold ends by itself then)"
	}
	var failed []string
	for _, r := range results {
		if !r.OK {
			failed = append(failed, fmt.Sprintf("check %s failed: %s", r.Name, r.Detail))
		}
	}
	if len(failed) > 0 {
		return false, strings.Join(failed, "; ")
	}
	switch len(results) {
	case 0:
		return true, "up"
	case 1:
		return true, "up; 1 check passed"
	}
	return true, fmt.Sprintf("up; all %d checks passed", len(results))
}

// NewReport assembles a Report.
func NewReport(node string, st state.State, stErr error, checks []CheckReport, v *vip.Status) Report {
	results := make([]check.Result, len(checks))
	for i, c := range checks {
		results[i] = c.Result
	}
	r := Report{Node: node, Checks: checks, VIP: v, At: time.Now().UTC()}
	r.Healthy, r.Reason = Verdict(st, stErr, results)
	if stErr != nil {
		r.StateError = stErr.Error()
	} else {
		r.State = &st
	}
	if r.Checks == nil {
		r.Checks = []CheckReport{}
	}
	return r
}

// StateName is the reported state ("up", "drained"), or "" when the state
// was unusable.
func (r Report) StateName() string {
	if r.State == nil {
		return ""
	}
	return r.State.State
}

// HoldsVIP reports whether the node says it holds the VIP; known is false
// when it has no VIP configured or could not read it.
func (r Report) HoldsVIP() (held, known bool) {
	if r.VIP == nil || r.VIP.Error != "" {
		return false, false
	}
	return r.VIP.Held, true
}

// Evaluate runs every check once, now, within ctx, and reports (without
// the VIP and the database decision, which only status shows). This is
// what the one-shot commands (`check`, `status`) use. When the state alone
// already decides "not healthy" the checks are skipped, unless allChecks is
// set (status wants to show them; check has no reason to spend the time).
func Evaluate(ctx context.Context, node string, store state.Store, entries []Entry, allChecks bool) Report {
	st, stErr := store.Load()
	checkers := make([]check.Checker, len(entries))
	timeouts := make([]time.Duration, len(entries))
	for i, e := range entries {
		checkers[i], timeouts[i] = e.Checker, e.Timeout
	}
	var results []check.Result
	if allChecks || stErr == nil && st.Eligible() {
		results = check.RunAll(ctx, checkers, timeouts)
	}
	reports := make([]CheckReport, len(results))
	for i, r := range results {
		reports[i] = CheckReport{Result: r, Age: time.Since(r.At)}
	}
	return NewReport(node, st, stErr, reports, nil)
}
