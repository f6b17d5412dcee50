// Package health turns configuration into checkers and decides the one
// verdict that `hacheck check`, `/healthz` and `status` all report: the
// node is healthy only when its state is a readable "up" and every live
// check passes.
package health

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// Entry is one configured checker with its schedule.
type Entry struct {
	Checker  check.Checker
	Timeout  time.Duration
	Interval time.Duration
}

// MySQLChecker builds the checker for a check of type mysql. It is set by
// the package that implements MySQL checks, so that this package does not
// depend on the database driver.
var MySQLChecker func(config.Check, *config.Config) (check.Checker, error)

// GaleraChecker builds the checker for a check of type galera; set, like
// MySQLChecker, by the package that owns the database driver.
var GaleraChecker func(config.Check, *config.Config) (check.Checker, error)

// AutoCheckers, when set, adds checks that the configuration implies
// without listing them under checks (the MySQL split-brain guard when
// mysql.dsn and vip are set). Set by the package that implements them.
var AutoCheckers func(*config.Config) ([]Entry, error)

// MySQLStatusLoader, when set, reads what hacheck last decided about this
// node's database (notify, promote) for status; nil when there is nothing.
var MySQLStatusLoader func(*config.Config) *MySQLStatus

// MySQLStatus is the last database decision on this node, as shown by
// status and /status: the last keepalived event applied by `hacheck
// notify` (or `hacheck promote`) and what it did.
type MySQLStatus struct {
	Seq      uint64    `json:"seq"`
	Event    string    `json:"event"`  // MASTER, BACKUP, FAULT, STOP, or PROMOTE (manual)
	Action   string    `json:"action"` // promoted, writable, fenced, refused, ignored, failed
	Detail   string    `json:"detail"`
	ReadOnly *bool     `json:"read_only,omitempty"`
	At       time.Time `json:"at"`
}

// MySQLStatusFor returns the recorded database decision, or nil.
func MySQLStatusFor(cfg *config.Config) *MySQLStatus {
	if MySQLStatusLoader == nil {
		return nil
	}
	return MySQLStatusLoader(cfg)
}

// Build makes the checkers configured in cfg.
func Build(cfg *config.Config) ([]Entry, error) {
	out := make([]Entry, 0, len(cfg.Checks))
	for _, c := range cfg.Checks {
		var ck check.Checker
		switch c.Type {
		case config.TypeTCP:
			ck = &check.TCP{CheckName: c.Name, Address: c.Address}
		case config.TypeHTTP:
			ck = &check.HTTP{CheckName: c.Name, URL: c.URL}
		case config.TypeExec:
			ck = &check.Exec{CheckName: c.Name, Command: c.Command, Env: []string{"HACHECK_NODE=" + cfg.Node}}
		case config.TypeMySQL:
			if MySQLChecker == nil {
				return nil, fmt.Errorf("check %s: mysql checks are not available in this build", c.Name)
			}
			var err error
			if ck, err = MySQLChecker(c, cfg); err != nil {
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
		case config.TypeGalera:
			if GaleraChecker == nil {
				return nil, fmt.Errorf("check %s: galera checks are not available in this build", c.Name)
			}
			var err error
			if ck, err = GaleraChecker(c, cfg); err != nil {
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
		default:
			return nil, fmt.Errorf("check %s: unknown type %q", c.Name, c.Type)
		}
		out = append(out, Entry{Checker: ck, Timeout: c.Timeout, Interval: c.Interval})
	}
	if AutoCheckers != nil {
		extra, err := AutoCheckers(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, extra...)
	}
	return out, nil
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
	At         time.Time     `json:"at"`
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

// Evaluate runs every check once, now, within ctx, and reports (without
// the VIP, which only status shows: see QueryVIP). This is
// what the one-shot commands (`check`, `status`) use. When the state alone
// already decides "not healthy" the checks are skipped, unless allChecks is
// set (status wants to show them; check has no reason to spend the time).
func Evaluate(ctx context.Context, cfg *config.Config, entries []Entry, allChecks bool) Report {
	st, stErr := state.Store{Dir: cfg.StateDir}.Load()
	checkers := make([]check.Checker, len(entries))
	timeouts := make([]time.Duration, len(entries))
	for i, e := range entries {
		checkers[i], timeouts[i] = e.Checker, e.Timeout
	}
	var results []check.Result
	if allChecks || stErr == nil && st.IsUp() {
		results = check.RunAll(ctx, checkers, timeouts)
	}
	reports := make([]CheckReport, len(results))
	for i, r := range results {
		reports[i] = CheckReport{Result: r, Age: time.Since(r.At)}
	}
	return NewReport(cfg.Node, st, stErr, reports, nil)
}

// QueryVIP reads the VIP status when one is configured.
func QueryVIP(cfg *config.Config) *vip.Status {
	if !cfg.VIP.Configured() {
		return nil
	}
	s := vip.Query(cfg.VIP.Interface, cfg.VIP.Address)
	return &s
}
