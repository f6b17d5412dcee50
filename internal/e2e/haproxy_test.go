package e2e

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The HAProxy tests run real HAProxy in front of two nodes on 127.0.0.1:
// each node is a tiny HTTP application answering its name ("A" or "B")
// plus the real hacheck binary (`hacheck serve`) with its own state
// directory and ports. HAProxy's configuration is examples/haproxy.cfg with
// only the addresses, the ports and the host-specific global lines
// (chroot, user, logging, stats socket path) replaced.

// haproxyExample is the example the tests render; relative to this package.
const haproxyExample = "../../examples/haproxy.cfg"

// haproxySettle is how long traffic is watched after a switch to prove it
// does not go back: several check intervals (inter 500 ms, agent-inter 1 s).
const haproxySettle = 2500 * time.Millisecond

// haproxyRequire returns the haproxy binary, or stops the test: a failure
// when CI is set, a skip otherwise.
func haproxyRequire(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("haproxy not found in PATH (%v): CI must install haproxy (apt-get install haproxy) to run the HAProxy tests", err)
	}
	t.Skipf("haproxy not found in PATH (%v): skipping the HAProxy test (set CI=1 to make this a failure)", err)
	return ""
}

// TestHAProxyExampleValid runs `haproxy -c` on examples/haproxy.cfg as
// shipped and on both renderings the other tests run.
func TestHAProxyExampleValid(t *testing.T) {
	bin := haproxyRequire(t)
	example, err := os.ReadFile(haproxyExample)
	if err != nil {
		t.Fatalf("read the example: %v", err)
	}
	for _, want := range []string{
		"option httpchk GET /healthz", "http-check expect status 200", "check port 8530", "backup",
		"agent-check agent-port 8531 agent-inter 1s",
	} {
		if !strings.Contains(string(example), want) {
			t.Errorf("examples/haproxy.cfg does not contain %q", want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	check := func(name, path string) {
		out, err := exec.CommandContext(ctx, bin, "-c", "-f", path).CombinedOutput()
		if err != nil {
			t.Errorf("haproxy -c -f %s (%s): %v\n%s", path, name, err, out)
		}
	}
	check("as shipped", haproxyExample)

	dir := t.TempDir()
	v := haproxyVars{Frontend: "127.0.0.1:18080", StatsSocket: filepath.Join(dir, "admin.sock"),
		A: haproxyServer{App: "127.0.0.1:18081", Check: 18530, Agent: 18531},
		B: haproxyServer{App: "127.0.0.1:18082", Check: 18532, Agent: 18533}}
	for _, agent := range []bool{false, true} {
		cfg, err := haproxyRender(string(example), v, agent)
		if err != nil {
			t.Fatalf("render (agent %v): %v", agent, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("haproxy-agent-%v.cfg", agent))
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("rendered, agent %v", agent), path)
	}
}

// TestHAProxyDrainSwitchesToBackup: with the HTTP check of the example,
//
//   - both nodes up: every request goes to A (B is a backup);
//   - `hacheck drain` on A: every new request goes to B, and once B has
//     answered no request goes to A again (the switch is atomic);
//   - `hacheck undrain` on A: traffic returns to A;
//   - state.json removed on A: traffic goes to B (fail closed).
func TestHAProxyDrainSwitchesToBackup(t *testing.T) {
	h := haproxySetup(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := h.waitFor(ctx, "A", 15*time.Second); err != nil {
		t.Fatalf("after start: %v", err)
	}
	h.mustStay(t, ctx, "A", time.Second)

	start := time.Now()
	h.hacheck(t, ctx, h.a, "drain", "--reason", "e2e haproxy")
	drained := time.Now()
	at, err := h.waitFor(ctx, "B", 5*time.Second)
	if err != nil {
		t.Fatalf("after drain of a: %v", err)
	}
	t.Logf("drain a -> first request served by B: %v after `hacheck drain` returned (the command took %v)",
		haproxyMs(at.Sub(drained)), haproxyMs(drained.Sub(start)))
	h.mustStay(t, ctx, "B", haproxySettle)
	t.Logf("haproxy: %s", h.serverStatus(t, h.backend))

	undrained := h.hacheckAt(t, ctx, h.a, "undrain", "--reason", "e2e haproxy")
	if at, err = h.waitFor(ctx, "A", 5*time.Second); err != nil {
		t.Fatalf("after undrain of a: %v", err)
	}
	t.Logf("undrain a -> first request served by A: %v", haproxyMs(at.Sub(undrained)))
	h.mustStay(t, ctx, "A", haproxySettle)

	removed := time.Now()
	if err := os.Remove(filepath.Join(h.a.stateDir, "state.json")); err != nil {
		t.Fatalf("remove a's state.json: %v", err)
	}
	if at, err = h.waitFor(ctx, "B", 5*time.Second); err != nil {
		t.Fatalf("after removing a's state.json: %v", err)
	}
	t.Logf("state.json removed on a -> first request served by B: %v", haproxyMs(at.Sub(removed)))
	h.mustStay(t, ctx, "B", haproxySettle)
	if code, body := haproxyGet(ctx, h.a.healthz()); code != http.StatusServiceUnavailable || body != "false\n" {
		t.Errorf("a's /healthz without state.json: HTTP %d %q, want 503 \"false\\n\"", code, body)
	}
}

// TestHAProxyAgentDrain: with the agent-check variant of the example,
//
//   - `hacheck drain` on A puts A in DRAIN (not DOWN): new requests go to
//     B, and a request already running on A finishes there;
//   - `hacheck undrain` makes A UP again and traffic returns to A;
//   - state.json removed on A: the agent says down and A is DOWN.
func TestHAProxyAgentDrain(t *testing.T) {
	h := haproxySetup(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := h.waitFor(ctx, "A", 15*time.Second); err != nil {
		t.Fatalf("after start: %v", err)
	}
	if err := h.waitStatus(ctx, "a", "UP", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A request that is still running on A when A is drained.
	slow := make(chan string, 1)
	go func() {
		code, body := haproxyGet(ctx, "http://"+h.frontend+"/slow")
		slow <- fmt.Sprintf("HTTP %d %q", code, body)
	}()
	if err := haproxyWaitInflight(ctx, h.a, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	drained := h.hacheckAt(t, ctx, h.a, "drain", "--reason", "e2e agent")
	if err := h.waitStatus(ctx, "a", "DRAIN", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("drain a -> HAProxy shows a as DRAIN after %v: %s", haproxyMs(time.Since(drained)), h.serverStatus(t, h.backend))
	at, err := h.waitFor(ctx, "B", 5*time.Second)
	if err != nil {
		t.Fatalf("after drain of a: %v", err)
	}
	t.Logf("drain a -> first request served by B: %v", haproxyMs(at.Sub(drained)))
	h.mustStay(t, ctx, "B", haproxySettle)
	if st := h.status(t, h.backend, "a"); !st.is("DRAIN") {
		t.Errorf("a is %s while drained, want DRAIN (the HTTP check must not mark it DOWN)", st)
	}
	select {
	case got := <-slow:
		if got != `HTTP 200 "A-slow"` {
			t.Errorf("request running on a during the drain: %s, want HTTP 200 \"A-slow\" (existing sessions finish)", got)
		}
	case <-ctx.Done():
		t.Fatal("the request running on a during the drain did not finish")
	}

	undrained := h.hacheckAt(t, ctx, h.a, "undrain", "--reason", "e2e agent")
	if err := h.waitStatus(ctx, "a", "UP", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if at, err = h.waitFor(ctx, "A", 5*time.Second); err != nil {
		t.Fatalf("after undrain of a: %v", err)
	}
	t.Logf("undrain a -> UP, first request served by A: %v", haproxyMs(at.Sub(undrained)))
	h.mustStay(t, ctx, "A", haproxySettle)

	if err := os.Remove(filepath.Join(h.a.stateDir, "state.json")); err != nil {
		t.Fatalf("remove a's state.json: %v", err)
	}
	if err := h.waitStatus(ctx, "a", "DOWN", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err = h.waitFor(ctx, "B", 5*time.Second); err != nil {
		t.Fatalf("after removing a's state.json: %v", err)
	}
	h.mustStay(t, ctx, "B", haproxySettle)
	t.Logf("state.json removed on a: %s", h.serverStatus(t, h.backend))
}

// haproxyVars are what a rendering of the example replaces.
type haproxyVars struct {
	Frontend    string // host:port of the frontend (the VIP's place)
	StatsSocket string
	A, B        haproxyServer
}

type haproxyServer struct {
	App          string // host:port of the node's application
	Check, Agent int    // hacheck's HTTP and agent ports
}

// haproxyRender turns examples/haproxy.cfg into a configuration for this
// host: the example's addresses and ports replaced, the global lines that
// need a system install (chroot, user, group, syslog) removed, and with
// agent the commented agent-check backend enabled and used by the
// frontend. Every replacement must happen, so the test notices when the
// example changes shape.
func haproxyRender(example string, v haproxyVars, agent bool) (string, error) {
	var out []string
	counts := map[string]int{}
	inAgent, inGlobal := false, false
	for _, l := range strings.Split(example, "\n") {
		if strings.HasPrefix(l, "#backend app_agent") {
			inAgent = true
		}
		if agent && inAgent && (strings.HasPrefix(l, "#backend ") || strings.HasPrefix(l, "#    ")) {
			l = l[1:]
		}
		f := strings.Fields(l)
		if len(f) > 0 && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "#") {
			inGlobal = f[0] == "global"
		}
		if inGlobal && len(f) > 0 && (f[0] == "chroot" || f[0] == "user" || f[0] == "group" || f[0] == "log") {
			counts["global"]++
			continue
		}
		comment := strings.HasPrefix(strings.TrimSpace(l), "#")
		rep := func(key, old, new string) {
			if !comment && strings.Contains(l, old) {
				l = strings.ReplaceAll(l, old, new)
				counts[key]++
			}
		}
		rep("bind", "bind 192.0.2.100:80", "bind "+v.Frontend)
		rep("socket", "/run/haproxy/admin.sock", v.StatsSocket)
		if agent {
			if len(f) == 2 && f[0] == "default_backend" && f[1] == "app" {
				l = strings.Replace(l, "app", "app_agent", 1)
				counts["default_backend"]++
			}
		}
		for _, s := range []struct {
			name, addr string
			srv        haproxyServer
		}{{"a", "192.0.2.11:80", v.A}, {"b", "192.0.2.12:80", v.B}} {
			if len(f) < 3 || f[0] != "server" || f[1] != s.name {
				continue
			}
			rep("server "+s.name, s.addr, s.srv.App)
			rep("check "+s.name, "check port 8530", fmt.Sprintf("check port %d", s.srv.Check))
			rep("agent "+s.name, "agent-port 8531", fmt.Sprintf("agent-port %d", s.srv.Agent))
		}
		out = append(out, l)
	}
	want := map[string]int{"global": 4, "bind": 1, "socket": 1, "server a": 1, "server b": 1, "check a": 1, "check b": 1}
	if agent {
		want = map[string]int{"global": 4, "bind": 1, "socket": 1, "default_backend": 1,
			"server a": 2, "server b": 2, "check a": 2, "check b": 2, "agent a": 1, "agent b": 1}
	}
	var bad []string
	for k, n := range want {
		if counts[k] != n {
			bad = append(bad, fmt.Sprintf("%s replaced %d times, want %d", k, counts[k], n))
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("examples/haproxy.cfg changed shape: %s", strings.Join(bad, "; "))
	}
	return strings.Join(out, "\n"), nil
}

// haproxyNode is one node: its application and its hacheck serve.
type haproxyNode struct {
	name     string // a or b
	dir      string
	stateDir string
	config   string
	port     int // hacheck listen
	agent    int // hacheck agent.listen
	app      *httptest.Server
	inflight chan struct{} // a /slow request has started
}

func (n *haproxyNode) healthz() string { return fmt.Sprintf("http://127.0.0.1:%d/healthz", n.port) }

// haproxyHarness is HAProxy in front of two nodes.
type haproxyHarness struct {
	bin      string // hacheck
	a, b     *haproxyNode
	frontend string
	socket   string
	backend  string // the backend the frontend uses: app or app_agent
}

// haproxySetup builds hacheck, starts both nodes (undrained) and HAProxy
// with the example rendered for them. Everything is stopped in t.Cleanup.
func haproxySetup(t *testing.T, agent bool) *haproxyHarness {
	t.Helper()
	hap := haproxyRequire(t)
	example, err := os.ReadFile(haproxyExample)
	if err != nil {
		t.Fatalf("read the example: %v", err)
	}
	dir := t.TempDir()
	h := &haproxyHarness{bin: haproxyBuildHacheck(t, dir), socket: filepath.Join(dir, "haproxy.sock"), backend: "app"}
	if agent {
		h.backend = "app_agent"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.a = haproxyStartNode(t, ctx, h.bin, dir, "a", "A")
	h.b = haproxyStartNode(t, ctx, h.bin, dir, "b", "B")
	for _, n := range []*haproxyNode{h.a, h.b} {
		h.hacheck(t, ctx, n, "undrain", "--reason", "e2e start")
		if err := haproxyWaitHealthz(ctx, n, http.StatusOK, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}

	h.frontend = fmt.Sprintf("127.0.0.1:%d", haproxyFreePort(t))
	v := haproxyVars{Frontend: h.frontend, StatsSocket: h.socket,
		A: haproxyServer{App: h.a.app.Listener.Addr().String(), Check: h.a.port, Agent: h.a.agent},
		B: haproxyServer{App: h.b.app.Listener.Addr().String(), Check: h.b.port, Agent: h.b.agent}}
	cfg, err := haproxyRender(string(example), v, agent)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// -db: stay in the foreground, so SIGTERM from the cleanup stops it.
	haproxyStartProc(t, "haproxy", filepath.Join(dir, "haproxy.log"), hap, "-db", "-f", path)
	if err := haproxyWaitDial(ctx, "tcp", h.frontend, 10*time.Second); err != nil {
		t.Fatalf("haproxy frontend: %v", err)
	}
	if err := haproxyWaitDial(ctx, "unix", h.socket, 10*time.Second); err != nil {
		t.Fatalf("haproxy stats socket: %v", err)
	}
	// HAProxy spreads its first checks over inter: start measuring only once
	// both servers have been checked.
	for _, sv := range []string{"a", "b"} {
		if err := h.waitChecked(ctx, sv, "UP", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// haproxyBuildHacheck builds cmd/hacheck into dir.
func haproxyBuildHacheck(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "hacheck")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/hacheck/hacheck/cmd/hacheck").CombinedOutput()
	if err != nil {
		t.Fatalf("go build cmd/hacheck: %v\n%s", err, out)
	}
	return bin
}

// haproxyStartNode starts the node's application (answering body, and
// body+"-slow" after 2 s on /slow) and its hacheck serve, with a tcp check
// on the application.
func haproxyStartNode(t *testing.T, ctx context.Context, bin, base, name, body string) *haproxyNode {
	t.Helper()
	n := &haproxyNode{name: name, dir: filepath.Join(base, name), inflight: make(chan struct{}, 16)}
	n.stateDir = filepath.Join(n.dir, "state")
	if err := os.MkdirAll(n.stateDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case n.inflight <- struct{}{}:
			default:
			}
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, body+"-slow")
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(n.app.Close)
	n.port, n.agent = haproxyFreePort(t), haproxyFreePort(t)
	n.config = filepath.Join(n.dir, "hacheck.yaml")
	yaml := fmt.Sprintf(`node: %s
state_dir: %s
listen: 127.0.0.1:%d
log_level: debug
agent:
  listen: 127.0.0.1:%d
checks:
  - name: app
    type: tcp
    address: %s
    timeout: 1s
    interval: 1s
`, name, n.stateDir, n.port, n.agent, n.app.Listener.Addr())
	if err := os.WriteFile(n.config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	haproxyStartProc(t, "hacheck serve "+name, filepath.Join(n.dir, "serve.log"), bin, "serve", "--config", n.config)
	if err := haproxyWaitDial(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", n.port), 10*time.Second); err != nil {
		t.Fatalf("hacheck serve on %s: %v", name, err)
	}
	return n
}

// haproxyStartProc starts a long-running process with its output in
// logPath; the cleanup stops it (SIGTERM, SIGKILL after 10 s) and, when the
// test failed, logs the end of its output.
func haproxyStartProc(t *testing.T, name, logPath, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		defer logf.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10 s of SIGTERM; killing it", name)
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			t.Logf("%s output (%s), last lines:\n%s", name, logPath, strings.Join(lines, "\n"))
		}
	})
}

// hacheck runs a hacheck command for node n and fails the test if it fails.
func (h *haproxyHarness) hacheck(t *testing.T, ctx context.Context, n *haproxyNode, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, h.bin, append(args, "--config", n.config)...).CombinedOutput()
	if err != nil {
		t.Fatalf("hacheck %s on %s: %v\n%s", strings.Join(args, " "), n.name, err, out)
	}
}

// hacheckAt is hacheck returning when the command finished.
func (h *haproxyHarness) hacheckAt(t *testing.T, ctx context.Context, n *haproxyNode, args ...string) time.Time {
	t.Helper()
	h.hacheck(t, ctx, n, args...)
	return time.Now()
}

// haproxyPoll is the pause between two requests through HAProxy.
const haproxyPoll = 2 * time.Millisecond

// waitFor sends requests through HAProxy until one is answered by want and
// returns when that answer arrived.
func (h *haproxyHarness) waitFor(ctx context.Context, want string, limit time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	url := "http://" + h.frontend + "/"
	seen := map[string]int{}
	for {
		code, body := haproxyGet(ctx, url)
		if code == http.StatusOK && body == want {
			return time.Now(), nil
		}
		seen[fmt.Sprintf("HTTP %d %q", code, body)]++
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("no answer from %s through haproxy within %v; answers seen: %v", want, limit, seen)
		case <-time.After(haproxyPoll):
		}
	}
}

// mustStay sends requests through HAProxy for d and fails the test on any
// answer that is not a 200 from want.
func (h *haproxyHarness) mustStay(t *testing.T, ctx context.Context, want string, d time.Duration) {
	t.Helper()
	url := "http://" + h.frontend + "/"
	end := time.Now().Add(d)
	n, bad := 0, map[string]int{}
	for time.Now().Before(end) && ctx.Err() == nil {
		code, body := haproxyGet(ctx, url)
		n++
		if code != http.StatusOK || body != want {
			bad[fmt.Sprintf("HTTP %d %q", code, body)]++
		}
		time.Sleep(haproxyPoll)
	}
	if len(bad) > 0 {
		t.Errorf("%d requests over %v after the switch to %s; other answers: %v", n, d, want, bad)
	}
}

// haproxyGet does one GET on a new connection and returns the status and
// body; code 0 and the error text when the request failed.
func haproxyGet(ctx context.Context, url string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := haproxyClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return resp.StatusCode, err.Error()
	}
	return resp.StatusCode, string(b)
}

// haproxyClient opens a new connection per request: every request is a new
// session for HAProxy.
var haproxyClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func haproxyWaitHealthz(ctx context.Context, n *haproxyNode, want int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var code int
	var body string
	for {
		if code, body = haproxyGet(ctx, n.healthz()); code == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s's /healthz: HTTP %d %q after %v, want %d", n.name, code, body, limit, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func haproxyWaitInflight(ctx context.Context, n *haproxyNode, limit time.Duration) error {
	select {
	case <-n.inflight:
		return nil
	case <-time.After(limit):
		return fmt.Errorf("no /slow request reached %s within %v", n.name, limit)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// haproxyWaitDial waits until addr accepts connections.
func haproxyWaitDial(ctx context.Context, network, addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s not accepting connections after %v: %w", network, addr, limit, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// haproxyFreePort returns a port on 127.0.0.1 that was free a moment ago.
func haproxyFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// haproxyServerState is one server's row of `show stat`.
type haproxyServerState struct {
	server, status, check, agent string
	sessions                     int // stot: sessions HAProxy has sent to the server
}

// is reports whether the status is want, with or without a qualifier such
// as "DRAIN (agent)"; a transition such as "UP 1/2" does not count.
func (s haproxyServerState) is(want string) bool {
	return s.status == want || strings.HasPrefix(s.status, want+" (")
}

func (s haproxyServerState) String() string {
	return fmt.Sprintf("%s %s (check %s, agent %s)", s.server, s.status, s.check, s.agent)
}

// stat asks the stats socket `show stat` and returns the servers of backend.
func (h *haproxyHarness) stat(backend string) ([]haproxyServerState, error) {
	c, err := net.DialTimeout("unix", h.socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, fmt.Errorf("haproxy stats socket: send show stat: %w", err)
	}
	r := bufio.NewReader(c)
	header, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("haproxy show stat: read header: %w", err)
	}
	cols := map[string]int{}
	for i, name := range strings.Split(strings.TrimSpace(strings.TrimPrefix(header, "# ")), ",") {
		cols[name] = i
	}
	for _, k := range []string{"pxname", "svname", "status", "check_status", "agent_status", "stot"} {
		if _, ok := cols[k]; !ok {
			return nil, fmt.Errorf("haproxy show stat: no %s column in %q", k, header)
		}
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []haproxyServerState
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("haproxy show stat: %w", err)
		}
		if len(rec) <= cols["agent_status"] || rec[cols["pxname"]] != backend {
			continue
		}
		sv := rec[cols["svname"]]
		if sv == "BACKEND" || sv == "FRONTEND" {
			continue
		}
		stot, err := strconv.Atoi(rec[cols["stot"]])
		if err != nil {
			return nil, fmt.Errorf("haproxy show stat: stot of %s: %w", sv, err)
		}
		out = append(out, haproxyServerState{server: sv, status: rec[cols["status"]],
			check: rec[cols["check_status"]], agent: rec[cols["agent_status"]], sessions: stot})
	}
	return out, nil
}

func (h *haproxyHarness) status(t *testing.T, backend, server string) haproxyServerState {
	t.Helper()
	all, err := h.stat(backend)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.server == server {
			return s
		}
	}
	t.Fatalf("haproxy show stat: no server %s in backend %s", server, backend)
	return haproxyServerState{}
}

// serverStatus is every server of backend in one line, for the log.
func (h *haproxyHarness) serverStatus(t *testing.T, backend string) string {
	t.Helper()
	all, err := h.stat(backend)
	if err != nil {
		return err.Error()
	}
	var s []string
	for _, st := range all {
		s = append(s, st.String())
	}
	return strings.Join(s, "; ")
}

// waitStatus waits until server a or b of the backend in use has status
// want in `show stat`.
func (h *haproxyHarness) waitStatus(ctx context.Context, server, want string, limit time.Duration) error {
	return h.waitServer(ctx, server, want, limit, func(s haproxyServerState) bool { return s.is(want) })
}

// waitChecked waits until server has status want and its checks (and the
// agent's, when used) have completed at least once.
func (h *haproxyHarness) waitChecked(ctx context.Context, server, want string, limit time.Duration) error {
	return h.waitServer(ctx, server, want+" and checked", limit, func(s haproxyServerState) bool {
		return s.is(want) && s.check == "L7OK" && (h.backend != "app_agent" || s.agent == "L7OK")
	})
}

func (h *haproxyHarness) waitServer(ctx context.Context, server, want string, limit time.Duration, ok func(haproxyServerState) bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last string
	for {
		all, err := h.stat(h.backend)
		if err != nil {
			last = err.Error()
		}
		for _, s := range all {
			if s.server == server {
				if ok(s) {
					return nil
				}
				last = s.String()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy: server %s not %s after %v; last: %s", server, want, limit, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func haproxyMs(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
