package server

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/health"
)

// /primary and /replica answer from the latest role read, and a role
// older than the freshness limit answers 503.
func TestRoleEndpoints(t *testing.T) {
	cfg := testConfig(t)
	var role atomic.Pointer[health.Role]
	opt := cfg.options(nil)
	opt.Role = func(context.Context) health.Role { r := *role.Load(); r.At = time.Now(); return r }
	s, err := New(opt, quiet)
	if err != nil {
		t.Fatal(err)
	}
	lag := int64(5)
	ask := func(path string) int {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code
	}
	set := func(r health.Role) {
		role.Store(&r)
		latest := opt.Role(context.Background())
		s.roles.latest.Store(&latest)
	}
	if ask("/primary") != 503 || ask("/replica") != 503 {
		t.Fatal("no role read yet must answer 503")
	}
	set(health.Role{Primary: true, AcceptingWrites: true, HoldsVIP: true})
	if ask("/primary") != 200 || ask("/replica") != 503 {
		t.Errorf("primary: /primary %d /replica %d", ask("/primary"), ask("/replica"))
	}
	set(health.Role{Replicating: true, SecondsBehind: &lag})
	for path, want := range map[string]int{"/primary": 503, "/replica": 200, "/replica?max_lag=10s": 200, "/replica?max_lag=2": 503, "/replica?max_lag=x": 400} {
		if got := ask(path); got != want {
			t.Errorf("replica: %s = %d, want %d", path, got, want)
		}
	}
	set(health.Role{Replicating: true})
	if got := ask("/replica?max_lag=10s"); got != 503 {
		t.Errorf("unknown lag with max_lag: %d", got)
	}
	old := health.Role{Primary: true, At: time.Now().Add(-time.Minute)}
	s.roles.latest.Store(&old)
	if got := ask("/primary"); got != 503 {
		t.Errorf("stale role: /primary %d", got)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("HEAD", "/primary", nil))
	if rec.Code != 503 || rec.Body.Len() != 0 {
		t.Errorf("HEAD /primary: %d %q", rec.Code, rec.Body.String())
	}
}

// A wake signal runs Reconcile at once, not after the interval it asked
// for; once the wake channel is closed the interval alone counts.
func TestReconcileWake(t *testing.T) {
	cfg := testConfig(t)
	opt := cfg.options(nil)
	calls := make(chan time.Time, 10)
	opt.Reconcile = func(context.Context) time.Duration {
		calls <- time.Now()
		return time.Hour
	}
	wake := make(chan struct{}, 1)
	opt.ReconcileWake = func(context.Context) <-chan struct{} { return wake }
	startWith(t, opt)
	next := func() {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("Reconcile was not called")
		}
	}
	next() // the first look, at start
	wake <- struct{}{}
	next() // woken, an hour early
	close(wake)
	next() // the loop looks once more as the channel closes
	select {
	case <-calls:
		t.Fatal("a closed wake channel ran Reconcile again")
	case <-time.After(200 * time.Millisecond):
	}
}
