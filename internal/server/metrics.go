package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// counters are the cumulative metrics serve keeps in memory.
type counters struct {
	mu        sync.Mutex
	checkRuns map[[2]string]uint64 // {check, "ok"|"fail"}
	requests  map[[2]string]uint64 // {handler, code}; /healthz is counted apart

	healthzOK, healthzFail atomic.Uint64 // lock-free: /healthz is the hot path
}

func (c *counters) healthz(ok bool) {
	if ok {
		c.healthzOK.Add(1)
	} else {
		c.healthzFail.Add(1)
	}
}

func newCounters() *counters {
	return &counters{checkRuns: map[[2]string]uint64{}, requests: map[[2]string]uint64{}}
}

func (c *counters) checkRan(r check.Result) {
	res := "fail"
	if r.OK {
		res = "ok"
	}
	c.mu.Lock()
	c.checkRuns[[2]string{r.Name, res}]++
	c.mu.Unlock()
}

func (c *counters) request(handler string, code int) {
	c.mu.Lock()
	c.requests[[2]string{handler, fmt.Sprint(code)}]++
	c.mu.Unlock()
}

// countRequests wraps a handler to count its responses by status code.
func (c *counters) countRequests(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h(rec, r)
		c.request(name, rec.code)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// metrics writes the Prometheus text exposition format (version 0.0.4).
// Names follow Prometheus conventions: a hacheck_ prefix, base units
// (seconds), _total for counters, 0/1 gauges for booleans.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	ok, _, checks, st, stErr := s.healthy(now)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m := &promWriter{w: w}

	m.gauge("hacheck_healthy", "1 when this node is healthy: state up and every live check passing (the /healthz verdict).", "", b2f(ok))
	m.gauge("hacheck_state_valid", "1 when state.json could be read and is valid; 0 means missing, corrupt or unknown version.", "", b2f(stErr == nil))
	m.gauge("hacheck_state_up", "1 when the state is up, 0 when drained or unusable.", "", b2f(stErr == nil && st.IsUp()))
	if stErr == nil {
		m.gauge("hacheck_state_generation", "Generation of state.json: +1 on every change.", "", float64(st.Generation))
		m.gauge("hacheck_state_changed_timestamp_seconds", "When the state last changed, as a Unix time.", "", unixSeconds(st.ChangedAt))
	}

	m.header("hacheck_check_ok", "gauge", "1 when the check's latest result passed (a stale result counts as failed).")
	for _, c := range checks {
		m.sample("hacheck_check_ok", labels("check", c.Name), b2f(c.OK))
	}
	m.header("hacheck_check_duration_seconds", "gauge", "How long the check's latest run took.")
	for _, c := range checks {
		m.sample("hacheck_check_duration_seconds", labels("check", c.Name), c.Took.Seconds())
	}
	m.header("hacheck_check_age_seconds", "gauge", "Age of the check's latest result.")
	for _, c := range checks {
		m.sample("hacheck_check_age_seconds", labels("check", c.Name), c.Age.Seconds())
	}
	s.counters.mu.Lock()
	runs := sortedKeys(s.counters.checkRuns)
	m.header("hacheck_check_runs_total", "counter", "Runs of each check by result.")
	for _, k := range runs {
		m.sample("hacheck_check_runs_total", labels("check", k[0], "result", k[1]), float64(s.counters.checkRuns[k]))
	}
	reqs := sortedKeys(s.counters.requests)
	m.header("hacheck_http_requests_total", "counter", "HTTP requests served, by handler and status code.")
	m.sample("hacheck_http_requests_total", labels("handler", "healthz", "code", "200"), float64(s.counters.healthzOK.Load()))
	m.sample("hacheck_http_requests_total", labels("handler", "healthz", "code", "503"), float64(s.counters.healthzFail.Load()))
	for _, k := range reqs {
		m.sample("hacheck_http_requests_total", labels("handler", k[0], "code", k[1]), float64(s.counters.requests[k]))
	}
	s.counters.mu.Unlock()

	if v := health.QueryVIP(s.cfg); v != nil {
		m.gauge("hacheck_vip_held", "1 when this node holds the VIP (read through netlink).", labels("address", v.Address.String(), "interface", v.Interface), b2f(v.Held))
	}

	if t, ok := s.lastTransition(); ok {
		m.gauge("hacheck_keepalived_transition_timestamp_seconds", "When `hacheck notify` last saw a keepalived transition, as a Unix time.", labels("instance", t.Instance, "state", t.State), unixSeconds(t.At))
		m.header("hacheck_keepalived_state", "gauge", "1 for the VRRP state of the last transition seen by `hacheck notify`.")
		for _, name := range []string{"MASTER", "BACKUP", "FAULT", "STOP"} {
			m.sample("hacheck_keepalived_state", labels("instance", t.Instance, "state", name), b2f(t.State == name))
		}
	}

	if rec, found, err := drain.LoadRecord(state.Store{Dir: s.cfg.StateDir}); err == nil && found {
		m.gauge("hacheck_last_drain_timestamp_seconds", "When the last drain that did something started, as a Unix time.", "", unixSeconds(rec.At))
		m.gauge("hacheck_last_drain_success", "1 when the last drain drained the node, 0 when it was refused.", "", b2f(rec.Outcome == "drained"))
		m.header("hacheck_last_drain_phase_seconds", "gauge", "Duration of each phase of the last drain (preconditions, fence, catch-up, flip, ...).")
		for _, p := range rec.Phases {
			m.sample("hacheck_last_drain_phase_seconds", labels("phase", p.Name), p.Seconds)
		}
		m.gauge("hacheck_last_drain_duration_seconds", "Total duration of the last drain.", "", rec.Total)
		m.gauge("hacheck_last_drain_fence_killed_connections", "Connections the fence of the last drain killed because they held it up (mysql.fence_kill).", "", float64(len(rec.Killed)))
	}
}

// promWriter writes metric families; it keeps no state but the writer.
type promWriter struct{ w io.Writer }

func (m *promWriter) header(name, typ, help string) {
	fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (m *promWriter) sample(name, lbls string, v float64) {
	fmt.Fprintf(m.w, "%s%s %v\n", name, lbls, v)
}

func (m *promWriter) gauge(name, help, lbls string, v float64) {
	m.header(name, "gauge", help)
	m.sample(name, lbls, v)
}

// labels renders {k="v",...} with values escaped as the format requires.
func labels(kv ...string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		v := strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(kv[i+1])
		fmt.Fprintf(&b, "%s=\"%s\"", kv[i], v)
	}
	b.WriteByte('}')
	return b.String()
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func sortedKeys(m map[[2]string]uint64) [][2]string {
	keys := make([][2]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	return keys
}
