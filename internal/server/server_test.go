package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testNode is what these tests set up of a node; options turns it into
// the server's Options, with an Operator that drains as internal/node does
// for a node without a database (the script preconditions, then the flip).
type testNode struct {
	StateDir            string
	Listen              string
	StaleAfter          int
	PreconditionsDir    string
	PreconditionTimeout time.Duration
	Drain               struct{ Timeout time.Duration }
	Admin               Admin
	Agent               struct{ Listen string }
}

func testConfig(t *testing.T) *testNode {
	return &testNode{StateDir: t.TempDir(), Listen: "127.0.0.1:0", StaleAfter: 3}
}

func (c *testNode) options(entries []health.Entry) Options {
	store := state.Store{Dir: c.StateDir}
	return Options{Node: "n1", Store: store, Listen: c.Listen, StaleAfter: c.StaleAfter, Checks: entries,
		Admin: c.Admin, Ops: testOps{store: store, pre: c.PreconditionsDir, timeout: c.PreconditionTimeout},
		DrainTimeout: c.Drain.Timeout, AgentListen: c.Agent.Listen}
}

type testOps struct {
	store   state.Store
	pre     string
	timeout time.Duration
}

func (o testOps) Drain(ctx context.Context, opt drain.Options, out io.Writer) (drain.Result, error) {
	if opt.To != "" {
		fmt.Fprintf(out, "successor: %s (chosen with --to)\n", opt.To)
	}
	pre, err := check.ScriptPreconditions(o.pre, nil)
	if err != nil {
		return drain.Result{Outcome: drain.Refused}, err
	}
	return drain.Run(ctx, o.store, drain.Plan{Preconditions: pre, PreconditionTimeout: o.timeout}, opt, out)
}

func (o testOps) RunDrain(ctx context.Context, req drain.Request, out io.Writer) error {
	res, err := o.Drain(ctx, req.Options, out)
	sum := drain.Summarize(res, err)
	if sum.Failed {
		return &exitcode.Error{Code: exitcode.Fail, Msg: sum.Message}
	}
	fmt.Fprintln(out, sum.Message)
	return nil
}

func (o testOps) Undrain(ctx context.Context, opt drain.Options, out io.Writer) (state.State, bool, error) {
	return drain.Undrain(ctx, o.store, drain.Recovery{}, nil, opt, out)
}

func (o testOps) Hold(ctx context.Context, req peer.HoldRequest, ttl time.Duration) (peer.HoldResponse, error) {
	s, err := o.store.SetHold(state.Hold{For: req.For, By: req.By, Since: time.Now(), Until: time.Now().Add(ttl)})
	return peer.HoldResponse{Outcome: "held", Hold: s.Hold}, err
}

func (o testOps) Release(req peer.HoldRequest) (peer.HoldResponse, error) {
	released, err := o.store.ReleaseHold(req.For, req.By)
	if released {
		return peer.HoldResponse{Outcome: "released"}, err
	}
	return peer.HoldResponse{Outcome: "not_held"}, err
}

// start runs a real server on a free port and returns its base URL and a
// stop function (idempotent; also called at cleanup) that returns Run's
// error.
func start(t *testing.T, cfg *testNode, entries []health.Entry) (string, func() error) {
	t.Helper()
	return startWith(t, cfg.options(entries))
}

// startWith is start with the options given.
func startWith(t *testing.T, opt Options) (string, func() error) {
	t.Helper()
	srv, err := New(opt, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ready) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(ShutdownTimeout + time.Second):
			return errors.New("serve did not stop")
		}
	})
	t.Cleanup(func() { stop() })
	select {
	case addr := <-ready:
		return "http://" + addr.String(), stop
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	}
	return "", stop
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthzCodesAndBodies(t *testing.T) {
	cfg := testConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	base, _ := start(t, cfg, nil)

	want := func(method string, code int, body string) {
		t.Helper()
		var c int
		var b string
		for deadline := time.Now().Add(time.Second); ; time.Sleep(5 * time.Millisecond) {
			c, b = get(t, method, base+"/healthz")
			if c == code && b == body || time.Now().After(deadline) {
				break
			}
		}
		if c != code || b != body {
			t.Fatalf("%s /healthz = %d %q, want %d %q", method, c, b, code, body)
		}
	}
	// No state file: fail closed.
	want("GET", 503, "false\n")
	want("HEAD", 503, "")
	st.Set(state.Change{To: state.Up})
	want("GET", 200, "true\n")
	want("HEAD", 200, "")
	st.Set(state.Change{To: state.Drained})
	want("GET", 503, "false\n")
	// Corrupt file: fail closed.
	st.Set(state.Change{To: state.Up})
	want("GET", 200, "true\n")
	state.WriteFileAtomic(st.Path(), []byte("{garbage"), 0o644)
	want("GET", 503, "false\n")

	if c, _ := get(t, "POST", base+"/healthz"); c != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz = %d", c)
	}
}

// A drain made by the CLI (a rename in the state directory) shows on
// /healthz within 100 ms.
func TestStateChangeVisibleWithin100ms(t *testing.T) {
	cfg := testConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	if c, _ := get(t, "GET", base+"/healthz"); c != 200 {
		t.Fatalf("not healthy at start: %d", c)
	}
	for i := range 5 {
		to, code := state.Drained, 503
		if i%2 == 1 {
			to, code = state.Up, 200
		}
		st.Set(state.Change{To: to})
		changed := time.Now()
		for {
			if c, _ := get(t, "GET", base+"/healthz"); c == code {
				break
			}
			if time.Since(changed) > 100*time.Millisecond {
				t.Fatalf("change %d to %s not visible on /healthz within 100ms", i, to)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func TestServeRepairsTrackFile(t *testing.T) {
	cfg := testConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	// As if a crash had left the track file disagreeing with state.json.
	os.WriteFile(st.TrackPath(), []byte("1\n"), 0o644)
	start(t, cfg, nil)
	deadline := time.Now().Add(2 * time.Second)
	for {
		b, _ := os.ReadFile(st.TrackPath())
		if string(b) == "0\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("track file still %q", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Removing state.json must flip the track file to 1 (fail closed).
	os.Remove(st.Path())
	deadline = time.Now().Add(2 * time.Second)
	for {
		b, _ := os.ReadFile(st.TrackPath())
		if string(b) == "1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("track file %q after state.json was removed", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fixed struct {
	name string
	ok   bool
}

func (f fixed) Name() string                       { return f.name }
func (f fixed) Check(context.Context) check.Result { return check.Result{OK: f.ok, Detail: "fixed"} }

func TestStatusJSON(t *testing.T) {
	cfg := testConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up, Reason: "ready"})
	entries := []health.Entry{
		{Checker: fixed{"good", true}, Timeout: time.Second, Interval: time.Second},
		{Checker: fixed{"bad", false}, Timeout: time.Second, Interval: time.Second},
	}
	opt := cfg.options(entries)
	opt.VIP = func() *vip.Status {
		return &vip.Status{Address: netip.MustParsePrefix("192.0.2.10/32"), Interface: "eth0", Held: true}
	}
	opt.Keepalived = func() *health.Keepalived { return &health.Keepalived{} }
	base, _ := startWith(t, opt)
	var rep health.Report
	var code int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var body string
		code, body = get(t, "GET", base+"/status")
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("not JSON: %v: %s", err, body)
		}
		if len(rep.Checks) == 2 && rep.Checks[1].Detail == "fixed" {
			break
		}
	}
	if code != 503 || rep.Healthy || rep.Node != "n1" || rep.State == nil || rep.State.Reason != "ready" {
		t.Fatalf("status: %d %+v", code, rep)
	}
	if !rep.Checks[0].OK || rep.Checks[1].OK || rep.Checks[0].Age <= 0 {
		t.Fatalf("checks: %+v", rep.Checks)
	}
	if rep.VIP == nil || rep.Keepalived == nil {
		t.Fatalf("status without the VIP or keepalived: %+v", rep)
	}
	// The verdict alone (a peer's peer-ready): the same verdict, no more.
	code, body := get(t, "GET", base+"/status?brief=1")
	var brief health.Report
	if err := json.Unmarshal([]byte(body), &brief); err != nil {
		t.Fatalf("brief status not JSON: %v: %s", err, body)
	}
	if code != 503 || brief.Healthy || brief.Node != "n1" || brief.StateName() != "up" || brief.Reason != rep.Reason || len(brief.Checks) != 2 {
		t.Fatalf("brief status: %d %+v, want the verdict of %+v", code, brief, rep)
	}
	if brief.VIP != nil || brief.Keepalived != nil || brief.MySQL != nil || brief.Drain != nil || brief.Role != nil {
		t.Fatalf("brief status has more than the verdict: %s", body)
	}
}

func TestGracefulStopKeepsState(t *testing.T) {
	cfg := testConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	before, _, _ := st.Set(state.Change{To: state.Up})
	_, stop := start(t, cfg, nil)
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	after, err := st.Load()
	if err != nil || after != before {
		t.Fatalf("state changed by stopping: %+v -> %+v (%v)", before, after, err)
	}
}

func TestHealthzHandlerNoIO(t *testing.T) {
	// The handler must answer from memory: with the state directory gone
	// the in-memory verdict still answers (until the watcher notices).
	cfg := testConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	s, _ := New(cfg.options(nil), quiet)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || rec.Body.String() != "true\n" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
