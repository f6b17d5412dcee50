package server

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return fams
}

// value finds the sample of name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s has no sample with labels %v", name, want)
	return nil
}

func TestMetricsExposition(t *testing.T) {
	cfg := adminConfig(t)
	// A failing precondition: a dry run is refused, then a forced drain
	// goes through.
	pre := t.TempDir()
	if err := os.WriteFile(filepath.Join(pre, "10-no"), []byte("#!/bin/sh\necho not now\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.PreconditionsDir = pre
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	st.SaveTransition(state.Transition{Kind: "INSTANCE", Instance: "VI_1", State: "BACKUP", Priority: 100, At: time.Now()})
	entries := []health.Entry{{Checker: fixed{"web", true}, Timeout: time.Second, Interval: 20 * time.Millisecond}}
	base, _ := start(t, cfg, entries)

	if code, r := post(t, base+"/v1/drain", testToken, `{"reason":"m","dry_run":true}`); r.Outcome != "refused" {
		t.Fatalf("dry run: %d %+v, want refused", code, r)
	}
	fams := scrape(t, base)
	if _, ok := fams["hacheck_last_drain_success"]; ok {
		t.Error("a refused dry run set hacheck_last_drain_success")
	}
	if v := value(t, fams, "hacheck_drains_total", map[string]string{"outcome": "refused"}).GetCounter().GetValue(); v != 0 {
		t.Errorf("a refused dry run counted as a refused drain: %v", v)
	}

	if code, r := post(t, base+"/v1/drain", testToken, `{"reason":"m","force":true}`); r.Outcome != "drained" {
		t.Fatalf("drain: %d %+v", code, r)
	}
	get(t, "GET", base+"/healthz")
	// Let the check run a few times.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fams = scrape(t, base)
		if f := fams["hacheck_check_run_duration_seconds"]; f != nil && f.Metric[0].GetHistogram().GetSampleCount() >= 2 || time.Now().After(deadline) {
			break
		}
	}

	// Every hacheck family: its type, and names that carry their unit.
	wantTypes := map[string]dto.MetricType{
		"hacheck_build_info":                              dto.MetricType_GAUGE,
		"hacheck_healthy":                                 dto.MetricType_GAUGE,
		"hacheck_state_valid":                             dto.MetricType_GAUGE,
		"hacheck_state_up":                                dto.MetricType_GAUGE,
		"hacheck_state_generation":                        dto.MetricType_GAUGE,
		"hacheck_state_changed_timestamp_seconds":         dto.MetricType_GAUGE,
		"hacheck_check_ok":                                dto.MetricType_GAUGE,
		"hacheck_check_duration_seconds":                  dto.MetricType_GAUGE,
		"hacheck_check_age_seconds":                       dto.MetricType_GAUGE,
		"hacheck_check_runs_total":                        dto.MetricType_COUNTER,
		"hacheck_check_run_duration_seconds":              dto.MetricType_HISTOGRAM,
		"hacheck_http_requests_total":                     dto.MetricType_COUNTER,
		"hacheck_keepalived_state":                        dto.MetricType_GAUGE,
		"hacheck_keepalived_transition_timestamp_seconds": dto.MetricType_GAUGE,
		"hacheck_last_drain_timestamp_seconds":            dto.MetricType_GAUGE,
		"hacheck_last_drain_success":                      dto.MetricType_GAUGE,
		"hacheck_last_drain_phase_seconds":                dto.MetricType_GAUGE,
		"hacheck_last_drain_duration_seconds":             dto.MetricType_GAUGE,
		"hacheck_drains_total":                            dto.MetricType_COUNTER,
		"hacheck_drain_phase_duration_seconds":            dto.MetricType_HISTOGRAM,
		"hacheck_drain_duration_seconds":                  dto.MetricType_HISTOGRAM,
		"hacheck_stale_ex_primary":                        dto.MetricType_GAUGE,
		"hacheck_last_drain_fence_killed_connections":     dto.MetricType_GAUGE,
	}
	for name, typ := range wantTypes {
		f := fams[name]
		if f == nil {
			t.Errorf("/metrics has no %s", name)
			continue
		}
		if f.GetType() != typ {
			t.Errorf("%s is a %v, want %v", name, f.GetType(), typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "hacheck_") {
			continue
		}
		_, ok := wantTypes[name]
		if _, db := dbMetricTypes[name]; !ok && !db {
			t.Errorf("%s is not in the test's list (nor, probably, in the README's)", name)
		}
		switch {
		case f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total"):
			t.Errorf("counter %s does not end in _total", name)
		case f.GetType() == dto.MetricType_HISTOGRAM && !strings.HasSuffix(name, "_seconds"):
			t.Errorf("histogram %s is not in seconds", name)
		case strings.Contains(name, "duration") && !strings.HasSuffix(name, "_seconds"):
			t.Errorf("%s is a duration without _seconds", name)
		}
	}
	// The standard collectors.
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"} {
		if fams[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}

	bi := value(t, fams, "hacheck_build_info", nil)
	labels := map[string]string{}
	for _, l := range bi.Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] == "" || labels["revision"] == "" || !strings.HasPrefix(labels["goversion"], "go") || bi.GetGauge().GetValue() != 1 {
		t.Errorf("hacheck_build_info %v = %v", labels, bi.GetGauge().GetValue())
	}

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hacheck_healthy", nil, 0},
		{"hacheck_state_up", nil, 0},
		{"hacheck_state_valid", nil, 1},
		{"hacheck_state_generation", nil, 2},
		{"hacheck_check_ok", map[string]string{"check": "web"}, 1},
		{"hacheck_keepalived_state", map[string]string{"instance": "VI_1", "state": "BACKUP"}, 1},
		{"hacheck_keepalived_state", map[string]string{"instance": "VI_1", "state": "MASTER"}, 0},
		{"hacheck_last_drain_success", nil, 1},
		{"hacheck_drains_total", map[string]string{"outcome": "drained"}, 1},
		{"hacheck_drains_total", map[string]string{"outcome": "refused"}, 0},
		{"hacheck_http_requests_total", map[string]string{"handler": "healthz", "code": "503"}, 1},
		{"hacheck_http_requests_total", map[string]string{"handler": "drain", "code": "200"}, 1},
	}
	for _, c := range checks {
		m := value(t, fams, c.name, c.labels)
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if h := value(t, fams, "hacheck_drain_phase_duration_seconds", map[string]string{"phase": "flip"}).GetHistogram(); h.GetSampleCount() != 1 || len(h.Bucket) == 0 {
		t.Errorf("flip histogram %v", h)
	}
	if h := value(t, fams, "hacheck_drain_duration_seconds", nil).GetHistogram(); h.GetSampleCount() != 1 {
		t.Errorf("drain duration histogram %v", h)
	}
	if h := value(t, fams, "hacheck_check_run_duration_seconds", map[string]string{"check": "web"}).GetHistogram(); h.GetSampleCount() < 2 {
		t.Errorf("check histogram %v", h)
	}
	if v := value(t, fams, "hacheck_check_runs_total", map[string]string{"check": "web", "result": "ok"}).GetCounter().GetValue(); v < 2 {
		t.Errorf("check runs %v", v)
	}
}

// discard is a ResponseWriter that keeps its header map, so a call to the
// handler shows only its own allocations.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// /healthz allocates nothing of its own: every load balancer polls it.
func TestHealthzAllocationFree(t *testing.T) {
	cfg := testConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	s, err := New(cfg.options(nil), quiet)
	if err != nil {
		t.Fatal(err)
	}
	w := &discard{h: http.Header{}}
	for _, method := range []string{"GET", "HEAD"} {
		req := httptest.NewRequest(method, "/healthz", nil)
		if n := testing.AllocsPerRun(1000, func() { s.healthz(w, req) }); n != 0 {
			t.Errorf("%s /healthz: %v allocations per request, want 0", method, n)
		}
	}
}

func BenchmarkHealthz(b *testing.B) {
	cfg := &testNode{StateDir: b.TempDir(), Listen: "127.0.0.1:0", StaleAfter: 3}
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	s, err := New(cfg.options(nil), quiet)
	if err != nil {
		b.Fatal(err)
	}
	w := &discard{h: http.Header{}}
	req := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		s.healthz(w, req)
	}
}

// Metrics of a node with a database: they appear only there.
var dbMetricTypes = map[string]dto.MetricType{
	"hacheck_promotion_refused":       dto.MetricType_GAUGE,
	"hacheck_divergence_detected":     dto.MetricType_GAUGE,
	"hacheck_promotion_retries_total": dto.MetricType_COUNTER,
	"hacheck_stale_follows_total":     dto.MetricType_COUNTER,
	"hacheck_primary":                 dto.MetricType_GAUGE,
	"hacheck_replicating":             dto.MetricType_GAUGE,
}

func TestMetricsOfADatabaseNode(t *testing.T) {
	cfg := testConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	opt := cfg.options(nil)
	opt.MySQL = func() *health.MySQLStatus { return &health.MySQLStatus{Action: "refused", Diverged: true} }
	opt.Role = func(context.Context) health.Role {
		return health.Role{At: time.Now(), HoldsVIP: true, Writes: "holds the VIP, NOT accepting writes"}
	}
	opt.ReconcileStats = func() (uint64, uint64) { return 3, 1 }
	srv, err := New(opt, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ready) }()
	defer func() { cancel(); <-done }()
	base := "http://" + (<-ready).String()
	var fams map[string]*dto.MetricFamily
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if fams = scrape(t, base); fams["hacheck_primary"] != nil {
			break
		}
	}
	for name, typ := range dbMetricTypes {
		if f := fams[name]; f == nil || f.GetType() != typ {
			t.Errorf("%s: %v", name, f)
		}
	}
	if v := value(t, fams, "hacheck_promotion_retries_total", nil).GetCounter().GetValue(); v != 3 {
		t.Errorf("retries %v", v)
	}
	if v := value(t, fams, "hacheck_divergence_detected", nil).GetGauge().GetValue(); v != 1 {
		t.Errorf("divergence %v", v)
	}
	if code, _ := get(t, "GET", base+"/primary"); code != 503 {
		t.Errorf("/primary of a read-only VIP holder: %d", code)
	}
}
