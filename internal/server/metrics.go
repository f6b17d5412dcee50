package server

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/buildinfo"
	"github.com/hacheck/hacheck/internal/drain"
)

// GET /metrics is the Prometheus exposition of client_golang's registry:
// its Go runtime and process collectors, hacheck_build_info, the check
// counters and histograms kept in memory, and a collector that reads the
// node's picture at scrape time (state, latest check results, VIP, the last
// keepalived transition, the drain record and drain stats that the CLI and
// serve both write to the state directory). Names follow Prometheus
// conventions: a hacheck_ prefix, base units (seconds) in the name,
// _total for counters, 0/1 gauges for booleans.

// CheckBuckets are the upper bounds, in seconds, of the check duration
// histogram: from a local TCP connect to the largest check_timeout.
var CheckBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// counters are the cumulative metrics serve keeps in memory.
type counters struct {
	checkRuns    *prometheus.CounterVec   // {check, result}
	checkSeconds *prometheus.HistogramVec // {check}

	mu       sync.Mutex
	requests map[[2]string]uint64 // {handler, code}; /healthz is counted apart

	healthzOK, healthzFail atomic.Uint64 // lock-free: /healthz is the hot path

	once    sync.Once
	handler http.Handler // /metrics, built on first use
}

func (c *counters) healthz(ok bool) {
	if ok {
		c.healthzOK.Add(1)
	} else {
		c.healthzFail.Add(1)
	}
}

func newCounters() *counters {
	return &counters{
		checkRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hacheck_check_runs_total",
			Help: "Runs of each live check by result (ok, fail).",
		}, []string{"check", "result"}),
		checkSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hacheck_check_run_duration_seconds",
			Help:    "How long each run of each live check took.",
			Buckets: CheckBuckets,
		}, []string{"check"}),
		requests: map[[2]string]uint64{},
	}
}

func (c *counters) checkRan(r check.Result) {
	res := "fail"
	if r.OK {
		res = "ok"
	}
	c.checkRuns.WithLabelValues(r.Name, res).Inc()
	c.checkSeconds.WithLabelValues(r.Name).Observe(r.Took.Seconds())
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

// Unwrap lets http.ResponseController reach the connection's writer: the
// admin drains extend their write deadline, and a CLI drain flushes each
// line (without it both silently did nothing).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// metrics serves GET /metrics.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	s.counters.once.Do(func() { s.counters.handler = s.metricsHandler() })
	s.counters.handler.ServeHTTP(w, r)
}

// metricsHandler builds the registry and its handler.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	bi := buildinfo.Read()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "hacheck_build_info",
		Help:        "Always 1; the labels say which hacheck this is.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Commit, "build_date": bi.BuildDate, "goversion": bi.GoVersion},
	})
	build.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		s.counters.checkRuns,
		s.counters.checkSeconds,
		nodeCollector{s},
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{s},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Warn("metrics: " + fmt.Sprint(v...)) }

// Descriptors of what nodeCollector reads at scrape time.
var (
	descHealthy      = newDesc("hacheck_healthy", "1 when this node is healthy: state up and every live check passing (the /healthz verdict).")
	descStateValid   = newDesc("hacheck_state_valid", "1 when state.json could be read and is valid; 0 means missing, corrupt or unknown version.")
	descStateUp      = newDesc("hacheck_state_up", "1 when the state is up, 0 when drained or unusable.")
	descGeneration   = newDesc("hacheck_state_generation", "Generation of state.json: +1 on every change.")
	descChanged      = newDesc("hacheck_state_changed_timestamp_seconds", "When the state last changed, as a Unix time.")
	descCheckOK      = newDesc("hacheck_check_ok", "1 when the check's latest result passed (a stale result counts as failed).", "check")
	descCheckLast    = newDesc("hacheck_check_duration_seconds", "How long the check's latest run took.", "check")
	descCheckAge     = newDesc("hacheck_check_age_seconds", "Age of the check's latest result.", "check")
	descRequests     = newDesc("hacheck_http_requests_total", "HTTP requests served, by handler and status code.", "handler", "code")
	descVIP          = newDesc("hacheck_vip_held", "1 when this node holds the VIP (read through netlink).", "address", "interface")
	descTransitionAt = newDesc("hacheck_keepalived_transition_timestamp_seconds", "When `hacheck notify` last saw a keepalived transition, as a Unix time.", "instance", "state")
	descVRRPState    = newDesc("hacheck_keepalived_state", "1 for the VRRP state of the last transition seen by `hacheck notify`.", "instance", "state")
	descLastDrainAt  = newDesc("hacheck_last_drain_timestamp_seconds", "When the last drain that did something (not a dry run) started, as a Unix time.")
	descLastDrainOK  = newDesc("hacheck_last_drain_success", "1 when the last drain (not a dry run) drained the node, 0 when it was refused.")
	descLastPhase    = newDesc("hacheck_last_drain_phase_seconds", "Duration of each phase of the last drain (preconditions, fence, catch-up, flip, ...).", "phase")
	descLastTotal    = newDesc("hacheck_last_drain_duration_seconds", "Total duration of the last drain.")
	descDrains       = newDesc("hacheck_drains_total", "Drains by outcome (drained, refused), from the CLI and the admin API; dry runs are not counted.", "outcome")
	descDrainPhase   = newDesc("hacheck_drain_phase_duration_seconds", "Duration of each phase of every counted drain.", "phase")
	descDrainTotal   = newDesc("hacheck_drain_duration_seconds", "Total duration of every counted drain.")
	descLastKilled   = newDesc("hacheck_last_drain_fence_killed_connections", "Connections the fence of the last drain killed because they held it up (mysql.fence_kill).")
	descStale        = newDesc("hacheck_stale_ex_primary", "1 while this node is a stale ex-primary: not eligible until it follows the new primary.")
	descRefused      = newDesc("hacheck_promotion_refused", "1 while the last database decision (notify or promote) is a refused promotion.")
	descDiverged     = newDesc("hacheck_divergence_detected", "1 when the last database decision found the peer's server ahead of this one while this one did not replicate.")
	descRetries      = newDesc("hacheck_promotion_retries_total", "Promotions serve retried after a refusal.")
	descFollows      = newDesc("hacheck_stale_follows_total", "Times serve made a stale ex-primary follow the new primary.")
	descPrimary      = newDesc("hacheck_primary", "1 when this node holds the VIP and its server is writable and not a stale ex-primary (as /primary).")
	descReplicating  = newDesc("hacheck_replicating", "1 while this node's server replicates with both threads running (as /replica).")
)

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// nodeCollector reads the node's picture at scrape time: the in-memory
// verdict and check results, and the small files of the state directory.
type nodeCollector struct{ s *Server }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHealthy, descStateValid, descStateUp, descGeneration, descChanged,
		descCheckOK, descCheckLast, descCheckAge, descRequests, descVIP, descTransitionAt, descVRRPState,
		descLastDrainAt, descLastDrainOK, descLastPhase, descLastTotal, descDrains, descDrainPhase, descDrainTotal,
		descLastKilled, descStale, descRefused, descDiverged, descRetries, descFollows, descPrimary, descReplicating} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	counter := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, lv...)
	}

	ok, _, checks, st, stErr := s.healthy(time.Now())
	gauge(descHealthy, b2f(ok))
	gauge(descStateValid, b2f(stErr == nil))
	gauge(descStateUp, b2f(stErr == nil && st.IsUp()))
	gauge(descStale, b2f(stErr == nil && st.Stale != nil))
	if stErr == nil {
		gauge(descGeneration, float64(st.Generation))
		gauge(descChanged, unixSeconds(st.ChangedAt))
	}
	for _, r := range checks {
		gauge(descCheckOK, b2f(r.OK), r.Name)
		gauge(descCheckLast, r.Took.Seconds(), r.Name)
		gauge(descCheckAge, r.Age.Seconds(), r.Name)
	}

	counter(descRequests, float64(s.counters.healthzOK.Load()), "healthz", "200")
	counter(descRequests, float64(s.counters.healthzFail.Load()), "healthz", "503")
	s.counters.mu.Lock()
	for _, k := range sortedKeys(s.counters.requests) {
		counter(descRequests, float64(s.counters.requests[k]), k[0], k[1])
	}
	s.counters.mu.Unlock()

	if v := s.vipStatus(); v != nil {
		gauge(descVIP, b2f(v.Held), v.Address.String(), v.Interface)
	}
	if d := s.mysqlStatus(); d != nil {
		gauge(descRefused, b2f(d.Action == "refused"))
		gauge(descDiverged, b2f(d.Diverged))
	}
	if s.opt.ReconcileStats != nil {
		retries, followed := s.opt.ReconcileStats()
		counter(descRetries, float64(retries))
		counter(descFollows, float64(followed))
	}
	if role, ok := s.roles.fresh(time.Now(), s.roleLimit()); ok {
		gauge(descPrimary, b2f(role.Primary))
		gauge(descReplicating, b2f(role.Replicating))
	}
	if t, ok := s.lastTransition(); ok {
		gauge(descTransitionAt, unixSeconds(t.At), t.Instance, t.State)
		for _, name := range []string{"MASTER", "BACKUP", "FAULT", "STOP"} {
			gauge(descVRRPState, b2f(t.State == name), t.Instance, name)
		}
	}

	store := s.opt.Store
	if rec, found, err := drain.LoadRecord(store); err == nil && found {
		gauge(descLastDrainAt, unixSeconds(rec.At))
		gauge(descLastDrainOK, b2f(rec.Outcome == "drained"))
		for _, p := range rec.Phases {
			gauge(descLastPhase, p.Seconds, p.Name)
		}
		gauge(descLastTotal, rec.Total)
		gauge(descLastKilled, float64(len(rec.Killed)))
	}
	stats, _, err := drain.LoadStats(store)
	if err != nil {
		s.log.Warn("metrics: drain stats not readable", "err", err)
	}
	// Both outcomes always, so a rate() sees the first refusal.
	for _, o := range []string{"drained", "refused"} {
		counter(descDrains, float64(stats.Outcomes[o]), o)
	}
	if stats.Phases["total"] == nil {
		ch <- prometheus.MustNewConstHistogram(descDrainTotal, 0, 0, (&drain.Histogram{Bounds: drain.PhaseBuckets, Counts: make([]uint64, len(drain.PhaseBuckets))}).Cumulative())
	}
	for _, name := range sortedNames(stats.Phases) {
		h := stats.Phases[name]
		if name == "total" {
			ch <- prometheus.MustNewConstHistogram(descDrainTotal, h.Count, h.Sum, h.Cumulative())
		} else {
			ch <- prometheus.MustNewConstHistogram(descDrainPhase, h.Count, h.Sum, h.Cumulative(), name)
		}
	}
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

func sortedNames(m map[string]*drain.Histogram) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
