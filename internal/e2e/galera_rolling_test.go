package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/galeratest"
	"github.com/hacheck/hacheck/internal/lab"
)

// The rolling test: real HAProxy in front of a real three-node Galera
// cluster (internal/galeratest), the real `hacheck serve` on every node in
// the node's namespace with a galera check on its own server, and writers
// committing through HAProxy while every node in turn is drained, stopped,
// started, waited for until Synced and undrained.
//
//	bridge namespace  br0 192.0.2.30: HAProxy, frontends :3306 (backend
//	                  galera, option httpchk GET /healthz) and :3307
//	                  (backend galera_agent, the agent check); the writers
//	                  and the /healthz watcher dial from here
//	g1 .. g3          192.0.2.21-23: mariadbd :3306, hacheck serve :8530,
//	                  its agent :8531
//
// Both backends check every rollingInter with fall 2: a drain shows in
// HAProxy within inter + fastinter of /healthz turning false, inside the
// fall x inter window the test allows before it counts a new connection to
// the drained node as a failure.

const (
	rollingHAProxyIP = "192.0.2.30"
	rollingInter     = 200 * time.Millisecond
	rollingFall      = 2
	// rollingWindow is how long after /healthz turned false a new
	// connection may still reach the drained node: HAProxy's detection.
	rollingWindow = rollingFall * rollingInter
)

// rollingISTRe finds the joiner's "Receiving IST: 770 writesets, seqnos
// 882-1651" in its error log.
var rollingISTRe = regexp.MustCompile(`Receiving IST: (\d+) writesets`)

const rollingHAProxyCfg = `global
    stats socket %[1]s mode 600 level admin
    stats timeout 30s

defaults
    mode tcp
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout check 180ms

frontend mysql
    bind %[2]s:3306
    default_backend galera

frontend mysql_agent
    bind %[2]s:3307
    default_backend galera_agent

backend galera
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter %[3]dms fastinter 100ms downinter %[3]dms fall %[4]d rise 2
%[5]s
backend galera_agent
    balance roundrobin
    option httpchk GET /healthz
    http-check expect rstatus ^(200|503)$
    default-server inter %[3]dms fastinter 100ms downinter %[3]dms fall %[4]d rise 2 on-marked-down shutdown-sessions
%[6]s`

// rollingNode is one member with its hacheck serve.
type rollingNode struct {
	*galeratest.Node
	config string
}

func (n *rollingNode) healthz() string { return "http://" + n.IP() + ":8530/healthz" }

// hacheck runs the hacheck binary in the node's namespace.
func (n *rollingNode) hacheck(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := n.Run(ctx, bin, append(args, "--config", n.config)...)
	return strings.TrimSpace(string(out)), err
}

// TestGaleraRollingDrain: with three writers committing through HAProxy
// (see writers below), every node in turn is drained with `hacheck
// drain`, stopped, started again (IST), waited for until Synced and
// undrained. It fails when a new connection reaches a node between
// rollingWindow after its /healthz turned false and its undrain (counted by
// HAProxy's stot and, independently, by the writers asking each new
// connection @@wsrep_node_name), or when an acknowledged commit is missing
// from any node at the end.
func TestGaleraRollingDrain(t *testing.T) {
	hap := haproxyRequire(t)
	c := galeratest.Start(t, galeratest.Options{})
	dir := t.TempDir()
	bin := haproxyBuildHacheck(t, dir)
	ctx := galeratest.Context(t, 3*time.Minute)

	g1 := c.Nodes[0]
	g1.CreateUserWith(t, "monitor", "monitor-secret", "")
	g1.CreateUserWith(t, "writer", "writer-secret", "SELECT, INSERT")
	g1.Exec(t, "CREATE DATABASE rolling", "CREATE TABLE rolling.acks (id BIGINT PRIMARY KEY, writer VARCHAR(8) NOT NULL)")
	if err := c.WaitSynced(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// hacheck serve on every node, undrained.
	var nodes []*rollingNode
	var servers, agentServers strings.Builder
	for _, g := range c.Nodes {
		n := &rollingNode{Node: g, config: filepath.Join(dir, g.Name+".yaml")}
		stateDir := filepath.Join(dir, g.Name+"-state")
		if err := os.MkdirAll(stateDir, 0o755); err != nil {
			t.Fatal(err)
		}
		yaml := fmt.Sprintf(`node: %s
state_dir: %s
listen: %s:8530
agent:
  listen: %s:8531
galera: {min_synced_others: 1, transition_period: 1s}
checks:
  - {name: galera, type: galera, dsn: "monitor:monitor-secret@tcp(%s:%d)/", timeout: 500ms, interval: 100ms}
`, g.Name, stateDir, g.IP(), g.IP(), g.IP(), galeratest.Port)
		if err := os.WriteFile(n.config, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		haproxyStartProc(t, "hacheck serve "+g.Name, filepath.Join(dir, g.Name+"-serve.log"),
			"ip", "netns", "exec", g.Host.NS, bin, "serve", "--config", n.config)
		if out, err := n.hacheck(ctx, bin, "undrain", "--reason", "rolling start"); err != nil {
			t.Fatalf("undrain %s: %v\n%s", g.Name, err, out)
		}
		fmt.Fprintf(&servers, "    server %s %s:%d check port 8530\n", g.Name, g.IP(), galeratest.Port)
		fmt.Fprintf(&agentServers, "    server %s %s:%d check port 8530 agent-check agent-port 8531 agent-inter %dms\n",
			g.Name, g.IP(), galeratest.Port, rollingInter.Milliseconds())
		nodes = append(nodes, n)
	}

	// HAProxy in the bridge namespace, on an address of its own.
	if _, err := exec.CommandContext(ctx, "ip", "-n", c.Net.BridgeNS, "addr", "add", rollingHAProxyIP+"/24", "dev", "br0").CombinedOutput(); err != nil {
		t.Fatalf("address for haproxy: %v", err)
	}
	bridge := &lab.Host{Name: "br", NS: c.Net.BridgeNS}
	dial := c.Net.DialContext(bridge)
	socket := filepath.Join(dir, "haproxy.sock")
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(rollingHAProxyCfg, socket, rollingHAProxyIP,
		rollingInter.Milliseconds(), rollingFall, servers.String(), agentServers.String())), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, hap, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	haproxyStartProc(t, "haproxy", filepath.Join(dir, "haproxy.log"), "ip", "netns", "exec", c.Net.BridgeNS, hap, "-db", "-f", cfg)
	if err := haproxyWaitDial(ctx, "unix", socket, 10*time.Second); err != nil {
		t.Fatalf("haproxy stats socket: %v", err)
	}
	backends := []*haproxyHarness{{socket: socket, backend: "galera"}, {socket: socket, backend: "galera_agent"}}
	for _, n := range nodes {
		for _, h := range backends {
			if err := h.waitStatus(ctx, n.Name, "UP", 15*time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}

	stats := rollingStartSampler(t, socket)
	netName := "rolling-" + c.Net.ID
	mysql.RegisterDialContext(netName, func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) })
	// w1 and w2 open a new connection every rollingRotate commits; w3 keeps
	// its connection until it fails (a drained node's sessions stay until
	// it stops), so its commits right before a node stops are checked too.
	writers := []*rollingWriter{
		{name: "w1", backend: "galera", addr: rollingHAProxyIP + ":3306", idBase: 1_000_000_000, rotate: rollingRotate},
		{name: "w2", backend: "galera_agent", addr: rollingHAProxyIP + ":3307", idBase: 2_000_000_000, rotate: rollingRotate},
		{name: "w3", backend: "galera", addr: rollingHAProxyIP + ":3306", idBase: 3_000_000_000},
	}
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, w := range writers {
		w.dsn = fmt.Sprintf("writer:writer-secret@%s(%s)/rolling?timeout=1s&readTimeout=5s&writeTimeout=5s", netName, w.addr)
		wg.Go(func() { w.run(wctx) })
	}
	writersStopped := false
	stop := func() {
		if !writersStopped {
			writersStopped = true
			stopWriters()
			wg.Wait()
		}
	}
	defer stop()
	time.Sleep(time.Second) // commits through every node before the first drain

	hz := &http.Client{Timeout: time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
	var steps []rollingReport
	for _, n := range nodes {
		steps = append(steps, rollingStep(t, ctx, bin, c, n, hz, backends, stats, writers))
		if t.Failed() {
			break
		}
	}
	time.Sleep(time.Second) // commits through every node after the last undrain
	stop()

	// Every acknowledged commit on every node; wsrep_sync_wait makes the
	// read wait for everything the node has received to be applied.
	missing := map[int64]bool{} // acknowledged, missing from some node
	for _, g := range c.Nodes {
		present, err := rollingIDs(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range writers {
			lost := 0
			for _, a := range w.acks {
				if !present[a.id] {
					lost++
					missing[a.id] = true
				}
			}
			if lost > 0 {
				t.Errorf("%s: %d of %d commits acknowledged to %s are missing", g.Name, lost, len(w.acks), w.name)
			}
		}
	}
	for _, w := range writers {
		t.Logf("writer %s (backend %s): %d commits acknowledged, %d connections, %d errors", w.name, w.backend, len(w.acks), len(w.conns), w.errs)
		for _, f := range w.fails {
			when := "outside the steps"
			for _, st := range steps {
				if f.at.After(st.from) && f.at.Before(st.to) {
					when = fmt.Sprintf("%v after %s stopped", ms(f.at.Sub(st.stopped)), st.node)
				}
			}
			t.Logf("  %s error on %s, %s: %v", w.name, f.where, when, f.err)
		}
	}
	for _, st := range steps {
		acked, on, lost := 0, 0, 0
		for _, w := range writers {
			for _, a := range w.acks {
				if a.at.After(st.from) && a.at.Before(st.to) {
					acked++
					if a.node == st.node {
						on++
					}
					if missing[a.id] {
						lost++
					}
				}
			}
		}
		t.Logf("%s; during the step %d commits acknowledged (%d by %s), %d lost", st.line, acked, on, st.node, lost)
	}
}

// rollingReport is one node's step: its line of the report and when it
// ran, from the drain to both backends showing the node UP again.
type rollingReport struct {
	node     string
	line     string
	from, to time.Time
	stopped  time.Time // its mariadbd stopped
}

// rollingStep drains, stops, starts and undrains one node.
func rollingStep(t *testing.T, ctx context.Context, bin string, c *galeratest.Cluster, n *rollingNode, hz *http.Client,
	backends []*haproxyHarness, stats *rollingSampler, writers []*rollingWriter) rollingReport {
	t.Helper()
	// /healthz watched from HAProxy's namespace, every 5 ms, until false.
	hzFalse := make(chan time.Time, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		for wctx.Err() == nil {
			at := time.Now()
			if code, _ := rollingGet(wctx, hz, n.healthz()); code == http.StatusServiceUnavailable {
				hzFalse <- at
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	drainStart := time.Now()
	drained := make(chan error, 1)
	var drainOut string
	go func() {
		var err error
		drainOut, err = n.hacheck(ctx, bin, "drain", "--reason", "rolling upgrade")
		drained <- err
	}()
	var falseAt time.Time
	select {
	case falseAt = <-hzFalse:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: /healthz still true 10 s after `hacheck drain` started", n.Name)
	}
	out := [2]string{"DOWN", "DRAIN"} // what a drain makes n in each backend
	for i, h := range backends {
		if err := h.waitStatus(ctx, n.Name, out[i], 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-drained; err != nil || !strings.Contains(drainOut, "this Galera node can be stopped now") {
		t.Fatalf("hacheck drain on %s: %v\n%s", n.Name, err, drainOut)
	}
	// The window starts rollingWindow after /healthz turned false: wait for
	// it, so the sampler has a sample from before it.
	windowStart := falseAt.Add(rollingWindow)
	time.Sleep(time.Until(windowStart) + 50*time.Millisecond)

	stoppedAt := time.Now()
	if err := n.Shutdown(); err != nil {
		t.Fatalf("stop %s: %v", n.Name, err)
	}
	stopTook := time.Since(stoppedAt)
	logBefore := len(strings.Split(n.ErrorLogTail(1<<30), "\n"))
	// The other members' states while n rejoins, every 50 ms.
	others := rollingWatchStates(ctx, c, n)
	if err := n.Restart(); err != nil {
		t.Fatalf("start %s: %v", n.Name, err)
	}
	if err := c.WaitSynced(ctx, 3); err != nil {
		t.Fatal(err)
	}
	syncedAt := time.Now()
	othersLine := others()
	// How it rejoined, from what its error log gained since the restart.
	transfer := "no state transfer logged"
	if lines := strings.Split(n.ErrorLogTail(1<<30), "\n"); len(lines) > logBefore {
		added := strings.Join(lines[logBefore:], "\n")
		// The rsync script runs for an IST too, and says which it was.
		switch m := rollingISTRe.FindStringSubmatch(added); {
		case strings.Contains(added, "rsync SST completed"):
			transfer = "full SST"
		case m != nil:
			transfer = "IST of " + m[1] + " writesets"
		}
	}

	undrainAt := time.Now()
	if err := stats.wait(undrainAt); err != nil { // a sample after undrainAt, before the undrain
		t.Fatal(err)
	}
	if out, err := n.hacheck(ctx, bin, "undrain", "--reason", "rolling upgrade done"); err != nil {
		t.Fatalf("undrain %s once Synced: %v\n%s", n.Name, err, out)
	}
	for _, h := range backends {
		if err := h.waitStatus(ctx, n.Name, "UP", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	upAt := time.Now()

	// New connections to n inside [windowStart, undrainAt]: HAProxy's
	// count, and the writers' own (a connection counts from when the
	// writer started dialling, so it was routed after that).
	var parts []string
	for i, h := range backends {
		before, after := stats.before(h.backend, n.Name, windowStart), stats.after(h.backend, n.Name, undrainAt)
		early := before - stats.before(h.backend, n.Name, falseAt)
		var seen int
		for _, w := range writers {
			if w.backend != h.backend {
				continue
			}
			for _, cn := range w.connections() {
				if cn.node == n.Name && cn.dialed.After(windowStart) && cn.dialed.Before(undrainAt) {
					seen++
				}
			}
		}
		if after != before || seen != 0 {
			t.Errorf("%s, backend %s: %d new sessions (HAProxy stot %d -> %d) and %d connections seen by the writers between %v after /healthz turned false and the undrain; want none",
				n.Name, h.backend, after-before, before, after, seen, rollingWindow)
		}
		parts = append(parts, fmt.Sprintf("%s: healthz false -> %s %v, sessions in the first %v %d, after it %d (writer saw %d)",
			h.backend, out[i], ms(stats.first(h.backend, n.Name, out[i], falseAt).Sub(falseAt)), rollingWindow, early, after-before, seen))
	}
	return rollingReport{node: n.Name, from: drainStart, to: upAt, stopped: stoppedAt,
		line: fmt.Sprintf("%s: `hacheck drain` -> /healthz false %v; %s; stop %v, stop -> Synced %v (%s); undrain -> UP in both %v; while it rejoined %s; meanwhile in backend galera %s",
			n.Name, ms(falseAt.Sub(drainStart)), strings.Join(parts, "; "), ms(stopTook), ms(syncedAt.Sub(stoppedAt)), transfer, ms(upAt.Sub(undrainAt)), othersLine,
			stats.notUp("galera", n.Name, drainStart, upAt))}
}

func rollingGet(ctx context.Context, c *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// rollingIDs returns every id in rolling.acks on g, read after the node
// has applied everything it received (wsrep_sync_wait).
func rollingIDs(ctx context.Context, g *galeratest.Node) (map[int64]bool, error) {
	conn, err := g.DB().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.Name, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1"); err != nil {
		return nil, fmt.Errorf("%s: %w", g.Name, err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT id FROM rolling.acks")
	if err != nil {
		return nil, fmt.Errorf("%s: read ids: %w", g.Name, err)
	}
	defer rows.Close()
	ids := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids[id] = true
	}
	return ids, rows.Err()
}

// rollingWriter commits one INSERT per commit with a unique id through one
// HAProxy frontend. It holds a connection for rotate commits (0: until it
// fails), then opens a new one (so new connections keep arriving at
// HAProxy), and reconnects on any error.
type rollingWriter struct {
	name, backend, addr, dsn string
	idBase                   int64
	rotate                   int

	mu    sync.Mutex
	acks  []rollingAck
	conns []rollingConn
	errs  int
	fails []rollingFail
}

type rollingFail struct {
	at    time.Time
	where string // the node the connection was on, or "connect"
	err   error
}

type rollingAck struct {
	id   int64
	node string
	at   time.Time
}

type rollingConn struct {
	node   string
	dialed time.Time
}

const rollingRotate = 5

func (w *rollingWriter) run(ctx context.Context) {
	db, err := sql.Open("mysql", w.dsn)
	if err != nil {
		panic(err) // a malformed DSN is a bug in the test
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // a connection given back is closed: every Conn dials
	seq := w.idBase
	for ctx.Err() == nil {
		dialed := time.Now()
		conn, node, err := w.connect(ctx, db)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.fail("connect", err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		w.conns = append(w.conns, rollingConn{node: node, dialed: dialed})
		w.mu.Unlock()
		for i := 0; w.rotate == 0 || i < w.rotate; i++ {
			seq++
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := conn.ExecContext(qctx, "INSERT INTO acks (id, writer) VALUES (?, ?)", seq, w.name)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					w.fail(node, err)
				}
				break
			}
			w.mu.Lock()
			w.acks = append(w.acks, rollingAck{id: seq, node: node, at: time.Now()})
			w.mu.Unlock()
			if ctx.Err() != nil {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		conn.Close()
	}
}

// connect opens a new connection and asks which node it reached.
func (w *rollingWriter) connect(ctx context.Context, db *sql.DB) (*sql.Conn, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := db.Conn(cctx)
	if err != nil {
		return nil, "", err
	}
	var node string
	if err := conn.QueryRowContext(cctx, "SELECT @@wsrep_node_name").Scan(&node); err != nil {
		conn.Close()
		return nil, "", err
	}
	return conn, node, nil
}

func (w *rollingWriter) fail(where string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs++
	w.fails = append(w.fails, rollingFail{at: time.Now(), where: where, err: err})
}

func (w *rollingWriter) connections() []rollingConn {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rollingConn(nil), w.conns...)
}

// rollingSampler reads HAProxy's `show stat` every 10 ms and keeps every
// sample: the sessions sent to each server (stot) over time.
type rollingSampler struct {
	mu      sync.Mutex
	samples []rollingSample
	err     error
}

type rollingSample struct {
	at  time.Time
	tot map[string]int                // backend/server -> stot
	st  map[string]haproxyServerState // backend/server -> its row
}

func rollingStartSampler(t *testing.T, socket string) *rollingSampler {
	t.Helper()
	s := &rollingSampler{}
	h := &haproxyHarness{socket: socket}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			at := time.Now()
			tot, st := map[string]int{}, map[string]haproxyServerState{}
			var err error
			for _, b := range []string{"galera", "galera_agent"} {
				var all []haproxyServerState
				if all, err = h.stat(b); err != nil {
					break
				}
				for _, sv := range all {
					tot[b+"/"+sv.server] = sv.sessions
					st[b+"/"+sv.server] = sv
				}
			}
			s.mu.Lock()
			if err != nil {
				s.err = err
			} else {
				s.samples = append(s.samples, rollingSample{at: at, tot: tot, st: st})
			}
			s.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if s.err != nil {
			t.Logf("haproxy stat sampler: last error %v", s.err)
		}
	})
	return s
}

// wait returns once there is a sample taken after at, or fails after 5 s.
func (s *rollingSampler) wait(at time.Time) error {
	var last error
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		s.mu.Lock()
		n, err := len(s.samples), s.err
		ok := n > 0 && s.samples[n-1].at.After(at)
		s.mu.Unlock()
		if ok {
			return nil
		}
		last = err
	}
	return fmt.Errorf("no haproxy stat sample within 5 s (last error: %v)", last)
}

// before is the server's stot in the last sample taken before t, after in
// the first sample taken after t. A sample is timed when its query starts
// and HAProxy answers within a millisecond or so, so after(t2) - before(t1)
// counts the sessions sent in [t1, t2] (all but those of that millisecond)
// and those of up to one sampling interval before t1 besides.
func (s *rollingSampler) before(backend, server string, t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := 0
	for _, x := range s.samples {
		if !x.at.Before(t) {
			break
		}
		v = x.tot[backend+"/"+server]
	}
	return v
}

func (s *rollingSampler) after(backend, server string, t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples {
		if x.at.After(t) {
			return x.tot[backend+"/"+server]
		}
	}
	return -1 // no sample yet: a difference that fails the test
}

// first is when the first sample after t showed the server want (see
// haproxyServerState.is); the zero time when none did.
func (s *rollingSampler) first(backend, server, want string, t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples {
		if x.at.After(t) && x.st[backend+"/"+server].is(want) {
			return x.at
		}
	}
	return time.Time{}
}

// notUp is how long each server of backend other than skip was not UP
// in the samples taken in [from, to], and its statuses then.
func (s *rollingSampler) notUp(backend, skip string, from, to time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	down := map[string]time.Duration{}
	seen := map[string]map[string]bool{}
	var names []string
	var prev time.Time
	for _, x := range s.samples {
		if x.at.Before(from) || x.at.After(to) {
			continue
		}
		for key, st := range x.st {
			b, sv, _ := strings.Cut(key, "/")
			if b != backend || sv == skip {
				continue
			}
			if seen[sv] == nil {
				seen[sv] = map[string]bool{}
				names = append(names, sv)
			}
			// "UP 1/2" (one check failed) still takes sessions.
			if !strings.HasPrefix(st.status, "UP") && !prev.IsZero() {
				down[sv] += x.at.Sub(prev)
				seen[sv][st.status] = true
			}
		}
		prev = x.at
	}
	sort.Strings(names)
	var out []string
	for _, sv := range names {
		if down[sv] == 0 {
			out = append(out, sv+" UP throughout")
			continue
		}
		var sts []string
		for st := range seen[sv] {
			sts = append(sts, st)
		}
		sort.Strings(sts)
		out = append(out, fmt.Sprintf("%s not UP for %v (%s)", sv, ms(down[sv]), strings.Join(sts, ", ")))
	}
	return strings.Join(out, ", ")
}

// rollingWatchStates polls wsrep_local_state_comment of every member but n
// until the returned function is called, which says how long each was in
// a state other than Synced.
func rollingWatchStates(ctx context.Context, c *galeratest.Cluster, n *rollingNode) func() string {
	ctx, cancel := context.WithCancel(ctx)
	var others []*galeratest.Node
	for _, g := range c.Nodes {
		if g.Name != n.Name {
			others = append(others, g)
		}
	}
	states := make([]map[string]time.Duration, len(others)) // per member: state -> time in it
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range states {
			states[i] = map[string]time.Duration{}
		}
		prev := time.Now()
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			now := time.Now()
			for i, g := range others {
				qctx, qcancel := context.WithTimeout(ctx, time.Second)
				st, err := g.Status(qctx, "wsrep_local_state_comment")
				qcancel()
				if err == nil && st != "Synced" {
					states[i][st] += now.Sub(prev)
				}
			}
			prev = now
		}
	}()
	return func() string {
		cancel()
		<-done
		var out []string
		for i, g := range others {
			if len(states[i]) == 0 {
				out = append(out, g.Name+" Synced throughout")
			}
			for st, d := range states[i] {
				out = append(out, fmt.Sprintf("%s %s for %v", g.Name, st, ms(d)))
			}
		}
		return strings.Join(out, ", ")
	}
}
