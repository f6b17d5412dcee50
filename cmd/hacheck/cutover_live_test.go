package main

// Live cutover tests: two (or three) real mariadbd started by the tests
// (internal/mariadbtest), hacheck commands run in-process through run(),
// each node's /status served by httptest from the same node.Node that
// `status` uses. They skip when mariadbd is not installed (fail under CI).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/mariadbtest"
	"github.com/hacheck/hacheck/internal/node"
	"github.com/hacheck/hacheck/internal/state"
)

const (
	liveHCUser  = "hacheck"
	liveHCPass  = "hc-secret-5d1e"
	liveAppUser = "app"
	liveAppPass = "app-secret-77aa"
)

// liveConfigTail ends every live node's configuration: the replication
// account, the drain's bounds and a mysql check.
var liveConfigTail = fmt.Sprintf(`replication:
  user: %s
  password: %s
drain:
  timeout: 30s
  catchup_timeout: 5s
checks:
  - name: db
    type: mysql
`, mariadbtest.ReplUser, mariadbtest.ReplPassword)

// dbNode is one node of the pair: its server, its hacheck configuration and
// its /status endpoint.
type dbNode struct {
	t      *testing.T
	name   string
	srv    *mariadbtest.Server
	dir    string
	config string
	status *httptest.Server

	mu  sync.Mutex
	cfg *config.Config
	nd  *node.Node
	// token, when set, is the admin token: the node then answers
	// POST /v1/hold and /v1/release as serve's admin API does.
	token string
}

func startDBServer(t *testing.T) *mariadbtest.Server {
	t.Helper()
	s := mariadbtest.Start(t, mariadbtest.Options{})
	s.CreateHacheckUser(t, liveHCUser, liveHCPass)
	s.CreateUserWith(t, liveAppUser, liveAppPass, "SELECT, INSERT")
	return s
}

// newDBNode prepares a node; configure (after its peer exists) writes its
// configuration.
func newDBNode(t *testing.T, name string, srv *mariadbtest.Server) *dbNode {
	t.Helper()
	n := &dbNode{t: t, name: name, srv: srv, dir: t.TempDir()}
	n.config = filepath.Join(n.dir, "hacheck.yaml")
	n.status = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			n.serveAdmin(w, r)
			return
		}
		n.serveStatus(w, r)
	}))
	t.Cleanup(n.status.Close)
	return n
}

func (n *dbNode) serveStatus(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	cfg, nd := n.cfg, n.nd
	n.mu.Unlock()
	if cfg == nil {
		http.Error(w, "not configured", http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), cfg.CheckTimeout)
	defer cancel()
	rep := nd.Evaluate(ctx, false)
	rep.VIP = nd.VIPStatus()
	rep.MySQL = nd.MySQLStatus()
	rep.Keepalived = nd.KeepalivedStatus()
	if !rep.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(rep)
}

func (n *dbNode) configure(peer *dbNode, extra string) {
	n.t.Helper()
	body := fmt.Sprintf(`node: %s
state_dir: %s
listen: 127.0.0.1:0
check_timeout: 2s
mysql:
  dsn: '%s'
  fence_timeout: 2s
peer:
  url: %s
  mysql_dsn: '%s'
  timeout: 1s
%s%s`, n.name, filepath.Join(n.dir, "state"), n.srv.DSN(liveHCUser, liveHCPass), peer.status.URL, peer.srv.DSN(liveHCUser, liveHCPass),
		liveConfigTail, extra)
	if err := os.WriteFile(n.config, []byte(body), 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.reload()
}

// reload loads the configuration file and builds its checks, as the
// commands will.
func (n *dbNode) reload() {
	n.t.Helper()
	cfg, err := config.Load(n.config)
	if err != nil {
		n.t.Fatal(err)
	}
	nd, err := node.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { nd.Close() })
	n.mu.Lock()
	n.cfg, n.nd = cfg, nd
	n.mu.Unlock()
}

// edit replaces old by new in the configuration file and reloads it.
func (n *dbNode) edit(old, new string) {
	n.t.Helper()
	body, err := os.ReadFile(n.config)
	if err != nil || !strings.Contains(string(body), old) {
		n.t.Fatalf("edit %s: %q not found (%v)", n.config, old, err)
	}
	if err := os.WriteFile(n.config, []byte(strings.Replace(string(body), old, new, 1)), 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.reload()
}

func (n *dbNode) hacheck(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append(args, "--config", n.config), &out, &errOut)
	return code, out.String(), errOut.String()
}

// must runs a command that has to succeed.
func (n *dbNode) must(args ...string) string {
	n.t.Helper()
	code, out, errOut := n.hacheck(args...)
	if code != ExitOK {
		n.t.Fatalf("%s: hacheck %s: exit %d\nstdout:\n%s\nstderr:\n%s", n.name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func (n *dbNode) readOnly() bool {
	n.t.Helper()
	return n.srv.QueryString(n.t, "SELECT @@GLOBAL.read_only") == "1"
}

func (n *dbNode) gtidPos() string {
	n.t.Helper()
	return n.srv.QueryString(n.t, "SELECT @@GLOBAL.gtid_binlog_pos")
}

func (n *dbNode) stateName() string {
	n.t.Helper()
	s, err := state.Store{Dir: filepath.Join(n.dir, "state")}.Load()
	if err != nil {
		return "error: " + err.Error()
	}
	return s.State
}

func (n *dbNode) ids() map[int]bool {
	n.t.Helper()
	rows, err := n.srv.DB().Query("SELECT id FROM app.t")
	if err != nil {
		n.t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			n.t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// livePair is A (primary) and B (GTID replica of A, read-only), both up in
// hacheck, with app.t created on A.
func livePair(t *testing.T, extraA, extraB string) (a, b *dbNode) {
	t.Helper()
	sa, sb := startDBServer(t), startDBServer(t)
	sb.MakeReplicaOf(t, sa)
	sa.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))")
	sb.WaitCaughtUp(t, sa, 10*time.Second)
	sb.Exec(t, "SET GLOBAL read_only = ON")
	a, b = newDBNode(t, "node-a", sa), newDBNode(t, "node-b", sb)
	a.configure(b, extraA)
	b.configure(a, extraB)
	a.must("undrain", "--keepalived-config", "/nonexistent")
	b.must("undrain", "--keepalived-config", "/nonexistent")
	return a, b
}

// writer inserts rows continuously as the application would, through
// whichever server accepts writes (a client following the VIP), and
// records every acknowledged insert.
type writer struct {
	dbs    [2]*sql.DB
	mu     sync.Mutex
	acked  map[int]int // id -> index of the server that acknowledged it
	doubt  map[int]bool
	ackAt  []time.Time
	errors int
	stop   chan struct{}
	done   chan struct{}
}

func startWriter(t *testing.T, a, b *dbNode) *writer {
	t.Helper()
	w := &writer{acked: map[int]int{}, doubt: map[int]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	for i, n := range []*dbNode{a, b} {
		db, err := sql.Open("mysql", n.srv.DSN(liveAppUser, liveAppPass))
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(2)
		w.dbs[i] = db
	}
	go w.run()
	t.Cleanup(func() {
		w.halt()
		w.dbs[0].Close()
		w.dbs[1].Close()
	})
	return w
}

func (w *writer) run() {
	defer close(w.done)
	target := 0
	for id := 1; ; id++ {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := w.dbs[target].ExecContext(ctx, "INSERT INTO app.t (id, v) VALUES (?, ?)", id, fmt.Sprintf("w%d", target))
		cancel()
		w.mu.Lock()
		switch {
		case err == nil:
			w.acked[id] = target
			w.ackAt = append(w.ackAt, time.Now())
		case isReadOnlyErr(err):
			// Not committed: the server refused it. Try the other one,
			// as a client whose VIP moved would.
			w.errors++
			target = 1 - target
		default:
			w.doubt[id] = true // may or may not have committed
			w.errors++
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func isReadOnlyErr(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1290
}

func (w *writer) halt() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// waitAcks waits until n more inserts were acknowledged by server idx.
func (w *writer) waitAcks(t *testing.T, idx, n int) {
	t.Helper()
	count := func() int {
		w.mu.Lock()
		defer w.mu.Unlock()
		c := 0
		for _, s := range w.acked {
			if s == idx {
				c++
			}
		}
		return c
	}
	want := count() + n
	deadline := time.Now().Add(20 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("writer: server %d acknowledged %d of %d inserts within 20s", idx, count(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// maxGap is the longest time between two consecutive acknowledgements.
func (w *writer) maxGap() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(w.ackAt); i++ {
		gap = max(gap, w.ackAt[i].Sub(w.ackAt[i-1]))
	}
	return gap
}

func (w *writer) ackedBy(idx int) []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for id, s := range w.acked {
		if s == idx {
			out = append(out, id)
		}
	}
	sort.Ints(out)
	return out
}

// cutover drains from (the primary) and promotes to (the replica), as
// keepalived would, while w writes; it checks that nothing was lost.
func doCutover(t *testing.T, w *writer, from, to *dbNode, fromIdx int) {
	t.Helper()
	w.waitAcks(t, fromIdx, 50)
	gapBefore := w.maxGap()
	start := time.Now()
	out := from.must("drain", "--reason", "move to "+to.name)
	frozen := from.gtidPos()
	drainTook := time.Since(start)
	// keepalived: the VIP moves; MASTER on the new node, FAULT on the old.
	pout := to.must("notify", "INSTANCE", "VI_1", "MASTER", "100")
	from.must("notify", "INSTANCE", "VI_1", "FAULT", "0")
	promotedAfter := time.Since(start)
	w.waitAcks(t, 1-fromIdx, 50)
	gap := w.maxGap()
	t.Logf("%s -> %s: drain %s, promoted %s after the drain started; longest gap between acknowledged writes %s (before the cutover: %s)\ndrain output:\n%snotify: %s",
		from.name, to.name, drainTook.Round(time.Millisecond), promotedAfter.Round(time.Millisecond), gap.Round(time.Millisecond), gapBefore.Round(time.Millisecond), out, pout)

	if !strings.Contains(pout, "promoted") {
		t.Fatalf("notify MASTER did not promote: %s", pout)
	}
	if from.stateName() != state.Drained {
		t.Fatalf("%s state %s after drain", from.name, from.stateName())
	}
	if !from.readOnly() || to.readOnly() {
		t.Fatalf("after the cutover: %s read_only=%v (want true), %s read_only=%v (want false)", from.name, from.readOnly(), to.name, to.readOnly())
	}
	// Nothing committed on the old primary after its fence.
	if got := from.gtidPos(); got != frozen {
		t.Fatalf("%s committed after its fence: gtid_binlog_pos %q, frozen at %q", from.name, got, frozen)
	}
	// No row on the old primary that no client was told about.
	w.mu.Lock()
	for id := range from.ids() {
		if _, ok := w.acked[id]; !ok && !w.doubt[id] {
			w.mu.Unlock()
			t.Fatalf("row %d on %s was never acknowledged to the writer", id, from.name)
		}
	}
	w.mu.Unlock()
}

// verifyNothingLost stops the writer and checks that every acknowledged
// row exists on primary.
func verifyNothingLost(t *testing.T, w *writer, primary *dbNode) (acked int) {
	t.Helper()
	w.halt()
	have := primary.ids()
	w.mu.Lock()
	defer w.mu.Unlock()
	var lost []int
	for id := range w.acked {
		if !have[id] {
			lost = append(lost, id)
		}
	}
	sort.Ints(lost)
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged rows missing on %s: %v", len(lost), primary.name, lost[:min(len(lost), 20)])
	}
	t.Logf("%d rows acknowledged, all on %s (%d refused or in doubt: %d in doubt)", len(w.acked), primary.name, w.errors, len(w.doubt))
	return len(w.acked)
}

func TestLiveCutoverUnderLoadAndBack(t *testing.T) {
	a, b := livePair(t, "", "")
	w := startWriter(t, a, b)

	doCutover(t, w, a, b, 0)

	// Reverse: A follows B, becomes an eligible standby, B drains to A.
	out := a.must("follow")
	if !strings.Contains(out, "now replicates from") {
		t.Fatalf("follow: %s", out)
	}
	a.must("undrain", "--keepalived-config", "/nonexistent")
	if a.stateName() != state.Up || !a.readOnly() {
		t.Fatalf("undrained A: state %s read_only %v", a.stateName(), a.readOnly())
	}
	doCutover(t, w, b, a, 1)
	n := verifyNothingLost(t, w, a)
	if n < 200 {
		t.Fatalf("only %d rows acknowledged: the load was too light to prove anything", n)
	}
	// The record shows the promotion.
	code, js, _ := a.hacheck("status", "--json")
	var rep health.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || code != ExitOK || rep.MySQL == nil || rep.MySQL.Action != "promoted" {
		t.Fatalf("status of the promoted node: exit %d, %v, %s", code, err, js)
	}
}

// drain --follow that finds the peer not promoted yet tries again, and
// follows it once it is (a try must not reuse the last one's "not promoted
// yet" without asking the peer again).
func TestLiveDrainFollowWaitsForThePromotion(t *testing.T) {
	a, b := livePair(t, "", "")
	done := make(chan string, 1)
	go func() {
		code, out, errOut := a.hacheck("drain", "--follow", "--reason", "follow test")
		done <- fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for a.stateName() != state.Drained && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // several tries find b read-only
	b.must("notify", "INSTANCE", "VI_1", "MASTER", "100")
	select {
	case res := <-done:
		if !strings.HasPrefix(res, "exit 0\n") || !strings.Contains(res, "now replicates from") {
			t.Fatalf("drain --follow, b promoted a second after the flip:\n%s", res)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("drain --follow did not follow b within 20 s of its promotion")
	}
}
