package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/mariadbtest"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/txnload"
)

// Three nodes, without keepalived: A the primary, B and C its GTID
// replicas, each node's /status and admin hold endpoints served from its
// node.Node (serveAdmin below does what serve's admin API does). keepalived
// is played by the test: when A's state flips, `notify MASTER` on C.

const liveGroupToken = "group-token-0123456789abcdef"

// serveAdmin answers POST /v1/hold and /v1/release with the bearer token.
func (n *dbNode) serveAdmin(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	nd, tok := n.nd, n.token
	n.mu.Unlock()
	if tok == "" || r.Header.Get("Authorization") != "Bearer "+tok {
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(peer.HoldResponse{Outcome: "error", Error: "wrong bearer token"})
		return
	}
	var req peer.HoldRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var resp peer.HoldResponse
	var err error
	switch r.URL.Path {
	case "/v1/hold":
		var ttl time.Duration
		if ttl, err = peer.ParseTTL(req.TTL); err == nil {
			resp, err = nd.Hold(r.Context(), req, ttl)
		}
	case "/v1/release":
		resp, err = nd.Release(req)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		resp.Outcome, resp.Error = "refused", err.Error()
		w.WriteHeader(http.StatusConflict)
	}
	json.NewEncoder(w).Encode(resp)
}

// configureGroup writes n's configuration with the others as peers:,
// an admin token file and a keepalived.conf with priority prio and
// nopreempt (preempt false leaves it out).
func (n *dbNode) configureGroup(others []*dbNode, prio int, preempt bool) {
	n.t.Helper()
	tokFile := filepath.Join(n.dir, "admin.token")
	if err := os.WriteFile(tokFile, []byte(liveGroupToken+"\n"), 0o600); err != nil {
		n.t.Fatal(err)
	}
	np := "nopreempt"
	if preempt {
		np = ""
	}
	kconf := filepath.Join(n.dir, "keepalived.conf")
	k := fmt.Sprintf("vrrp_instance VI_1 {\n  state BACKUP\n  interface lo\n  virtual_router_id 51\n  priority %d\n  %s\n  advert_int 1\n}\n", prio, np)
	if err := os.WriteFile(kconf, []byte(k), 0o644); err != nil {
		n.t.Fatal(err)
	}
	var peers strings.Builder
	for _, o := range others {
		fmt.Fprintf(&peers, "  - name: %s\n    url: %s\n    mysql_dsn: '%s'\n", o.name, o.status.URL, o.srv.DSN(liveHCUser, liveHCPass))
	}
	body := fmt.Sprintf(`node: %s
state_dir: %s
listen: 127.0.0.1:0
check_timeout: 2s
keepalived: {config: %s}
admin: {enabled: true, token_file: %s}
mysql:
  dsn: '%s'
  fence_timeout: 2s
peers:
%speer_timeout: 1s
%s`, n.name, filepath.Join(n.dir, "state"), kconf, tokFile, n.srv.DSN(liveHCUser, liveHCPass), peers.String(), liveConfigTail)
	if err := os.WriteFile(n.config, []byte(body), 0o600); err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	n.token = liveGroupToken
	n.mu.Unlock()
	n.reload()
}

func (n *dbNode) loadState() state.State {
	n.t.Helper()
	s, err := state.Store{Dir: filepath.Join(n.dir, "state")}.Load()
	if err != nil {
		n.t.Fatal(err)
	}
	return s
}

// liveGroup is A (primary, priority 254), B (253) and C (252), B and C GTID
// replicas of A, every node up; the txnload tables are set up on A.
func liveGroup(t *testing.T, lc txnload.Config) (a, b, c *dbNode) {
	t.Helper()
	sa, sb, sc := startDBServer(t), startDBServer(t), startDBServer(t)
	sb.MakeReplicaOf(t, sa)
	sc.MakeReplicaOf(t, sa)
	for _, s := range []*mariadbtest.Server{sa, sb, sc} {
		s.CreateUserWith(t, "oltp", "oltp-secret-3c9d", "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP")
	}
	lc.DSN = sa.DSN("oltp", "oltp-secret-3c9d")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := txnload.Setup(ctx, sa.DB(), lc); err != nil {
		t.Fatal(err)
	}
	sb.WaitCaughtUp(t, sa, 10*time.Second)
	sc.WaitCaughtUp(t, sa, 10*time.Second)
	sb.Exec(t, "SET GLOBAL read_only = ON")
	sc.Exec(t, "SET GLOBAL read_only = ON")
	a, b, c = newDBNode(t, "node-a", sa), newDBNode(t, "node-b", sb), newDBNode(t, "node-c", sc)
	a.configureGroup([]*dbNode{b, c}, 254, false)
	b.configureGroup([]*dbNode{a, c}, 253, false)
	c.configureGroup([]*dbNode{a, b}, 252, false)
	for _, n := range []*dbNode{a, b, c} {
		n.must("undrain", "--keepalived-config", "/nonexistent")
	}
	return a, b, c
}

// sourceID is the server_id n's server replicates from, "" when none, with
// its threads.
func (n *dbNode) replication() (source, io, sql string) {
	n.t.Helper()
	rows, err := n.srv.DB().Query("SHOW SLAVE STATUS")
	if err != nil {
		n.t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return "", "", ""
	}
	vals := make([]any, len(cols))
	raw := make([]*string, len(cols))
	for i := range vals {
		vals[i] = &raw[i]
	}
	if err := rows.Scan(vals...); err != nil {
		n.t.Fatal(err)
	}
	get := func(name string) string {
		for i, c := range cols {
			if c == name && raw[i] != nil {
				return *raw[i]
			}
		}
		return ""
	}
	return get("Master_Server_Id"), get("Slave_IO_Running"), get("Slave_SQL_Running")
}

// A drain --to that is refused changes nothing: A writable and up, no
// node held, nothing fenced.
func assertNothingChanged(t *testing.T, a, b, c *dbNode, what string) {
	t.Helper()
	if a.readOnly() || a.stateName() != state.Up {
		t.Fatalf("%s: A read_only %v, state %s", what, a.readOnly(), a.stateName())
	}
	for _, n := range []*dbNode{b, c} {
		if s := n.loadState(); s.Hold != nil || s.State != state.Up {
			t.Fatalf("%s: %s state %s, hold %+v", what, n.name, s.State, s.Hold)
		}
		if _, io, sql := n.replication(); io != "Yes" || sql != "Yes" {
			t.Fatalf("%s: %s replication IO %s SQL %s", what, n.name, io, sql)
		}
	}
}

func TestLiveDrainToSuccessorAmongThree(t *testing.T) {
	_ = mysql.SetLogger(log.New(io.Discard, "", 0)) // the load's killed connections
	lc := txnload.Config{Threads: 8, Tables: 4, Rows: 200}
	a, b, c := liveGroup(t, lc)

	// The choice without --to, before any load: B and C lack nothing; B
	// has the higher priority.
	out := a.must("drain", "--dry-run")
	if !strings.Contains(out, "\nsuccessor: node-b (as up to date as node-c") || !strings.Contains(out, "higher keepalived priority 253 > 252") {
		t.Fatalf("dry run: %s", out)
	}
	assertNothingChanged(t, a, b, c, "dry run")

	// Refusals, each with nothing changed.
	refuse := func(want string, args ...string) {
		t.Helper()
		code, out, errOut := a.hacheck(append([]string{"drain", "--reason", "test"}, args...)...)
		if code != ExitFail || !strings.Contains(out+errOut, want) {
			t.Fatalf("drain %v: exit %d, want %d saying %q\nstdout:\n%s\nstderr:\n%s", args, code, ExitFail, want, out, errOut)
		}
		assertNothingChanged(t, a, b, c, strings.Join(args, " "))
	}
	refuse(`unknown successor "node-x": the peers are node-b, node-c`, "--to", "node-x")
	c.srv.Exec(t, "STOP SLAVE SQL_THREAD")
	code, _, _ := a.hacheck("drain", "--to", "node-c")
	c.srv.Exec(t, "START SLAVE SQL_THREAD")
	if code != ExitFail {
		t.Fatalf("drain --to a replica whose SQL thread is stopped: exit %d", code)
	}
	assertNothingChanged(t, a, b, c, "--to a stopped replica")
	// A delayed replica is not a caught-up one: refused before any hold or
	// fence, so writes on A never stop.
	c.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 30", "START SLAVE")
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := c.srv.WaitReplicaRunning(wctx); err != nil {
		t.Fatal(err)
	}
	wcancel()
	a.srv.Exec(t, "INSERT INTO txnload.ledger (id, thread) VALUES (-1, -1)")
	code, dout, derr := a.hacheck("drain", "--to", "node-c")
	if code != ExitFail || !strings.Contains(dout, "node-c is not a caught-up replica") || strings.Contains(dout, "step fence") || strings.Contains(dout, "step hold") {
		t.Fatalf("drain --to a delayed replica: exit %d\nstdout:\n%s\nstderr:\n%s", code, dout, derr)
	}
	c.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE")
	c.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
	assertNothingChanged(t, a, b, c, "--to a delayed replica")
	// B without nopreempt and a higher priority than C would take the VIP
	// back from C once released.
	b.configureGroup([]*dbNode{a, c}, 253, true)
	refuse("node-b (priority 253, no nopreempt) would take the VIP back from node-c (priority 252)", "--to", "node-c")
	b.configureGroup([]*dbNode{a, c}, 253, false)
	// B refuses the hold (wrong token): released, refused, nothing changed.
	b.mu.Lock()
	b.token = "another-token-0000000000000000"
	b.mu.Unlock()
	refuse("hold node-b", "--to", "node-c")
	b.mu.Lock()
	b.token = liveGroupToken
	b.mu.Unlock()

	// The move under the transactional load.
	lc.DSN = a.srv.DSN("oltp", "oltp-secret-3c9d")
	l1, err := txnload.Start(lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Stop()
	waitAcked := func(l *txnload.Load, n int) {
		t.Helper()
		want := len(l.Snapshot().Acked) + n
		for end := time.Now().Add(20 * time.Second); len(l.Snapshot().Acked) < want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("the load committed %d of %d within 20s (last error %s)", len(l.Snapshot().Acked), want, l.Snapshot().LastErr)
			}
		}
	}
	waitAcked(l1, 100)

	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		code, out, errOut := a.hacheck("drain", "--to", "node-c", "--reason", "move to node-c")
		done <- result{code, out, errOut}
	}()
	// keepalived: A's flip puts it into FAULT; B is held (FAULT); C, the
	// only BACKUP left, becomes MASTER.
	var heldAtFlip *state.Hold
	for a.stateName() != state.Drained {
		select {
		case r := <-done:
			t.Fatalf("drain ended before the flip: exit %d\n%s\n%s", r.code, r.out, r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	flipped := time.Since(start)
	heldAtFlip = b.loadState().Hold
	if heldAtFlip == nil || heldAtFlip.For != "node-c" || heldAtFlip.By != "node-a" {
		t.Fatalf("B not held for the move at A's flip: %+v", heldAtFlip)
	}
	if code, out, _ := b.hacheck("check"); code != ExitFail || !strings.Contains(out, "held for move to node-c by node-a") {
		t.Fatalf("check on held B: exit %d %s", code, out)
	}
	pout := c.must("notify", "INSTANCE", "VI_1", "MASTER", "252")
	a.must("notify", "INSTANCE", "VI_1", "FAULT", "0")
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("drain --to did not end")
	}
	st1 := l1.Stop()
	t.Logf("drain --to node-c: flip %s after start, ended %s after start; %d transactions acknowledged on A (%d failed)\ndrain output:\n%s\nnotify on C: %s",
		flipped.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), len(st1.Acked), st1.Failed, r.out, pout)
	if r.code != ExitOK {
		t.Fatalf("drain --to node-c: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"\nsuccessor: node-c (chosen with --to)\n", "held node-b until", "released the hold on node-b",
		"repointed: node-b replicates from node-c by GTID (IO and SQL running"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("drain output lacks %q", want)
		}
	}
	if !strings.Contains(pout, "promoted") || c.readOnly() || !a.readOnly() || !b.readOnly() {
		t.Fatalf("after the move: C promoted %v, read_only A %v B %v C %v", strings.Contains(pout, "promoted"), a.readOnly(), b.readOnly(), c.readOnly())
	}
	cID := c.srv.QueryString(t, "SELECT @@server_id")
	if src, io, sql := b.replication(); src != cID || io != "Yes" || sql != "Yes" {
		t.Fatalf("B replicates from server_id %s (C is %s), IO %s SQL %s", src, cID, io, sql)
	}
	if s := b.loadState(); s.Hold != nil || !s.Eligible() {
		t.Fatalf("B after the move: %+v", s)
	}

	// Writes go on on C and reach B.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lc2 := lc
	lc2.Database, lc2.DSN = "txnload2", c.srv.DSN("oltp", "oltp-secret-3c9d")
	if err := txnload.Setup(ctx, c.srv.DB(), lc2); err != nil {
		t.Fatal(err)
	}
	l2, err := txnload.Start(lc2)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Stop()
	waitAcked(l2, 100)
	st2 := l2.Stop()
	b.srv.WaitCaughtUp(t, c.srv, 10*time.Second)
	for _, n := range []*dbNode{c, b} {
		for _, chk := range []struct {
			db    string
			acked []int64
		}{{lc.Database, st1.Acked}, {lc2.Database, st2.Acked}} {
			lost, rows, err := txnload.Lost(ctx, n.srv.DB(), chk.db, chk.acked)
			if err != nil || len(lost) > 0 {
				t.Fatalf("%s %s: %d acknowledged commits lost of %d (%d rows): %v %v", n.name, chk.db, len(lost), len(chk.acked), rows, lost[:min(len(lost), 10)], err)
			}
		}
	}
	sc, err := txnload.Checksums(ctx, c.srv.DB(), lc)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := txnload.Checksums(ctx, b.srv.DB(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if d := txnload.DiffChecksums(sc, sb); len(d) > 0 {
		t.Fatalf("checksums differ between C and B: %v", d)
	}
	// A follows the new primary among its peers.
	if out := a.must("follow"); !strings.Contains(out, "following node-c") {
		t.Fatalf("follow on A: %s", out)
	}
	if src, _, _ := a.replication(); src != cID {
		t.Fatalf("A replicates from server_id %s, want C's %s", src, cID)
	}
}

// A drain --to killed with SIGKILL before its flip (as its hold step
// starts, once B has granted its hold, or with B held and A fenced while
// the successor catches up slowly): the
// next `hacheck check` on A rolls it back: A writable and up, B's hold
// released, the journal gone. Killed after its flip, while it waits for the
// successor: status names the interrupted move and the command that
// finishes it, and `hacheck follow` on B finishes it. HACHECK_MOVE_KILLS
// sets the number of kills before the flip (CI: 4).
func TestLiveMoveKilledIsRecovered(t *testing.T) {
	bin := buildHacheck(t)
	a, b, c := liveGroup(t, txnload.Config{Threads: 1, Tables: 1, Rows: 10})
	stateDir := filepath.Join(a.dir, "state")
	a.srv.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(32))")
	c.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
	b.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
	start := func(args ...string) (*exec.Cmd, *bytes.Buffer, chan error) {
		var out bytes.Buffer
		cmd := exec.Command(bin, append([]string{"drain", "--config", a.config}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		return cmd, &out, exited
	}
	waitFor := func(what string, out *bytes.Buffer, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never %s:\n%s", what, out)
			}
		}
	}
	n := rounds(t, "HACHECK_MOVE_KILLS", 4)
	for round := range n {
		slow := round%2 == 1
		stopWrites := make(chan struct{})
		wrote := make(chan struct{})
		var stopOnce sync.Once
		stop := func() { stopOnce.Do(func() { close(stopWrites); <-wrote }) }
		t.Cleanup(stop) // before the servers stop, also when the round fails
		if slow {
			// C applies 1 s late (binlog times are whole seconds: up to 2 s)
			// while A takes writes: it reaches A's position before the
			// fence within half the catch-up timeout (2.5 s), then needs
			// a second or two more for the frozen one.
			c.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 1", "START SLAVE")
			go func() {
				defer close(wrote)
				for i := 0; ; i++ {
					select {
					case <-stopWrites:
						return
					case <-time.After(20 * time.Millisecond):
					}
					a.srv.DB().Exec(fmt.Sprintf("INSERT INTO app.t VALUES (%d, 'slow')", 100000*(round+1)+i))
				}
			}()
			time.Sleep(2500 * time.Millisecond)
		} else {
			close(wrote)
		}
		cmd, out, exited := start("--to", "node-c", "--reason", fmt.Sprintf("kill round %d", round))
		switch {
		case slow:
			waitFor("in the catch-up step", out, func() bool { return journalStep(stateDir) == "catch-up" })
		case round%4 == 2: // B has granted its hold; the fence comes next
			waitFor("B held", out, func() bool { return b.loadState().Hold != nil })
		default:
			waitFor("in the hold step", out, func() bool { return journalStep(stateDir) == "hold" })
		}
		step := journalStep(stateDir)
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		stop()
		heldAfterKill := b.loadState().Hold != nil
		code, cout, _ := a.hacheck("check")
		if code != ExitOK || a.readOnly() || a.stateName() != state.Up {
			t.Fatalf("round %d (killed at %s): check exit %d %s; A read_only %v state %s", round, step, code, cout, a.readOnly(), a.stateName())
		}
		if s := b.loadState(); s.Hold != nil {
			t.Fatalf("round %d (killed at %s): B still held after recovery: %+v", round, step, s.Hold)
		}
		if journalStep(stateDir) != "" {
			t.Fatalf("round %d: journal left", round)
		}
		r, _ := os.ReadFile(filepath.Join(stateDir, drain.RecordName))
		t.Logf("round %d: killed at step %s (B held at the kill: %v); recovered by check: %s", round, step, heldAfterKill, r)
		if slow {
			c.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE")
			c.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
		}
	}

	// Killed after the flip, while it waits for C's promotion.
	cmd, out, exited := start("--to", "node-c", "--reason", "kill after the flip")
	waitFor("flipped", out, func() bool { return a.stateName() == state.Drained })
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	_, sout, _ := a.hacheck("status")
	if !strings.Contains(sout, "INTERRUPTED: the move after a drain") || !strings.Contains(sout, "hacheck follow") {
		t.Fatalf("status after a kill after the flip:\n%s\ndrain output:\n%s", sout, out)
	}
	if code, bout, _ := b.hacheck("check"); code != ExitFail || !strings.Contains(bout, "held for move to node-c") {
		t.Fatalf("B after the kill: exit %d %s (want held until the lease ends)", code, bout)
	}
	c.must("notify", "INSTANCE", "VI_1", "MASTER", "252")
	if fout := b.must("follow"); !strings.Contains(fout, "following node-c") || !strings.Contains(fout, "released this node's hold for the move to node-c") {
		t.Fatalf("follow on B: %s", fout)
	}
	if code, bout, _ := b.hacheck("check"); code != ExitOK {
		t.Fatalf("B after follow: exit %d %s", code, bout)
	}
	cID := c.srv.QueryString(t, "SELECT @@server_id")
	if src, io, sql := b.replication(); src != cID || io != "Yes" || sql != "Yes" {
		t.Fatalf("B replicates from %s (C is %s), IO %s SQL %s", src, cID, io, sql)
	}
	t.Logf("after the flip kill, status said:\n%s", sout)
}
