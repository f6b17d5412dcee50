package db

// The fence under a transactional load with row contention, on real
// mariadbd processes (internal/mariadbtest) and the internal/txnload client.

import (
	"context"
	"database/sql"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/mariadbtest"
	"github.com/hacheck/hacheck/internal/txnload"
)

// hotLoad is the load that makes a plain fence time out: 8 clients on 4
// tables of 200 rows.
var hotLoad = txnload.Config{Threads: 8, Tables: 4, Rows: 200}

// killPair is a primary and its replica with the hacheck account (which
// can see and kill other users' connections) and the app account the load
// runs as.
func killPair(t *testing.T) (primary, replica *mariadbtest.Server) {
	t.Helper()
	primary, replica = node(t), node(t)
	replica.MakeReplicaOf(t, primary)
	ctx := ctxFor(t, 30*time.Second)
	if err := txnload.Setup(ctx, primary.DB(), hotLoad); err != nil {
		t.Fatal(err)
	}
	replica.WaitCaughtUp(t, primary, 10*time.Second)
	return primary, replica
}

// startLoad runs hotLoad as the app user against s until the test ends,
// and waits until it commits.
func startLoad(t *testing.T, s *mariadbtest.Server) *txnload.Load {
	t.Helper()
	c := hotLoad
	c.DSN = s.DSN(appUser, appPass)
	l, err := txnload.Start(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	waitFor(t, 10*time.Second, func() bool { return len(l.Snapshot().Acked) >= 50 })
	return l
}

// unfence makes s writable again and waits for the load to commit again.
func unfence(t *testing.T, hc *Server, l *txnload.Load) {
	t.Helper()
	if err := hc.SetReadOnly(ctxFor(t, 10*time.Second), false); err != nil {
		t.Fatal(err)
	}
	n := len(l.Snapshot().Acked)
	waitFor(t, 10*time.Second, func() bool { return len(l.Snapshot().Acked) >= n+50 })
}

// The failure that FenceWithKill exists for: a plain SET GLOBAL read_only
// under 8 clients on hot rows does not land; it times out with 1205.
func TestLiveFenceTimesOutUnderHotRows(t *testing.T) {
	primary, _ := killPair(t)
	hc := open(t, primary, hcUser, hcPass, Options{LockWaitTimeout: time.Second})
	l := startLoad(t, primary)
	const tries = 3
	timedOut := 0
	for i := range tries {
		start := time.Now()
		err := hc.SetReadOnly(ctxFor(t, 10*time.Second), true)
		took := time.Since(start)
		switch {
		case err == nil:
			t.Logf("try %d: the plain fence landed after %s", i+1, took.Round(time.Millisecond))
			unfence(t, hc, l)
		case mysqlErrno(err) == 1205:
			timedOut++
			t.Logf("try %d: %v after %s", i+1, err, took.Round(time.Millisecond))
			time.Sleep(200 * time.Millisecond)
		default:
			t.Fatalf("try %d: %v", i+1, err)
		}
	}
	st := l.Stop()
	t.Logf("plain fence: %d of %d timed out with 1205; load: %d commits, %d failed (errors by number %v)", timedOut, tries, len(st.Acked), st.Failed, st.Errors)
	if timedOut == 0 {
		t.Errorf("the plain fence never timed out: the load no longer reproduces the deadlock that FenceWithKill resolves")
	}
}

// KILL QUERY against KILL CONNECTION: how often each lands the fence
// within 5 s, how long it waits, how many connections it kills.
func TestLiveFenceKillModes(t *testing.T) {
	primary, _ := killPair(t)
	hc := open(t, primary, hcUser, hcPass, Options{LockWaitTimeout: time.Second})
	l := startLoad(t, primary)
	const tries = 3
	landed := map[KillMode]int{}
	for _, mode := range []KillMode{KillQuery, KillConnection} {
		for i := range tries {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			rep, err := hc.FenceWithKill(ctx, FenceKillOptions{Grace: DefaultFenceGrace, Mode: mode})
			cancel()
			t.Logf("%s try %d: waited %s, %d round(s), %d killed, err %v", mode.sql(), i+1, rep.Waited.Round(time.Millisecond), rep.Rounds, len(rep.Killed), err)
			if err == nil {
				landed[mode]++
			}
			if ro, rerr := hc.ReadOnly(ctxFor(t, 5*time.Second)); rerr != nil || ro.Fenced() != (err == nil) {
				t.Errorf("%s try %d: read_only %v (%v) after FenceWithKill returned %v: a fence that gave up must not land later", mode.sql(), i+1, ro, rerr, err)
			}
			unfence(t, hc, l)
		}
	}
	st := l.Stop()
	t.Logf("landed within 5s: KILL QUERY %d of %d, KILL CONNECTION %d of %d; load: %d commits, %d failed %v", landed[KillQuery], tries, landed[KillConnection], tries, len(st.Acked), st.Failed, st.Errors)
	if landed[KillConnection] != tries {
		t.Errorf("KILL CONNECTION landed %d of %d fences", landed[KillConnection], tries)
	}
}

// Fences under the hot-row load, as a drain does them: every fence lands,
// the replica catches up to the frozen position, both servers hold the
// same data (CHECKSUM TABLE), and no acknowledged commit is missing.
// HACHECK_FULL=1 runs 20 fences instead of 5.
func TestLiveFenceKillUnderLoad(t *testing.T) {
	fences := 5
	if os.Getenv("HACHECK_FULL") != "" {
		fences = 20
	}
	primary, replica := killPair(t)
	hc := open(t, primary, hcUser, hcPass, Options{LockWaitTimeout: 2 * time.Second})
	rhc := open(t, replica, hcUser, hcPass, Options{})
	l := startLoad(t, primary)
	var waits []time.Duration
	var kills []int
	for i := range fences {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // mysql.fence_timeout's default
		rep, err := hc.FenceWithKill(ctx, FenceKillOptions{Grace: DefaultFenceGrace})
		cancel()
		if err != nil {
			t.Fatalf("fence %d: %v (after %s, %d killed)", i+1, err, rep.Waited, len(rep.Killed))
		}
		waits, kills = append(waits, rep.Waited), append(kills, len(rep.Killed))
		pos, err := hc.GTIDPosition(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := rhc.WaitForGTID(ctxFor(t, 15*time.Second), pos, 10*time.Second); err != nil {
			t.Fatalf("fence %d: replica did not catch up to %s: %v", i+1, pos, err)
		}
		a, b := checksums(t, primary.DB()), checksums(t, replica.DB())
		if d := txnload.DiffChecksums(a, b); len(d) > 0 {
			t.Fatalf("fence %d: tables differ between primary and replica: %v\nprimary %v\nreplica %v", i+1, d, a, b)
		}
		var who []string
		for _, k := range rep.Killed {
			who = append(who, k.String())
		}
		t.Logf("fence %d: landed after %s, %d round(s) (%d early: stalled), killed %d: %s", i+1, rep.Waited.Round(time.Millisecond), rep.Rounds, rep.Stalled, len(rep.Killed), strings.Join(who, "; "))
		unfence(t, hc, l)
	}
	st := l.Stop()
	for _, s := range []*mariadbtest.Server{primary, replica} {
		if s == replica {
			replica.WaitCaughtUp(t, primary, 10*time.Second)
		}
		lost, rows, err := txnload.Lost(ctxFor(t, 10*time.Second), s.DB(), hotLoad.Database, st.Acked)
		if err != nil {
			t.Fatal(err)
		}
		if len(lost) > 0 {
			t.Fatalf("%d acknowledged commits missing on %s: %v", len(lost), s.Addr, lost[:min(len(lost), 20)])
		}
		t.Logf("%s: ledger has %d rows, all %d acknowledged commits among them", s.Addr, rows, len(st.Acked))
	}
	if d := txnload.DiffChecksums(checksums(t, primary.DB()), checksums(t, replica.DB())); len(d) > 0 {
		t.Fatalf("at the end, tables differ: %v", d)
	}
	t.Logf("%d of %d fences landed; wait p50 %s p95 %s max %s; kills per fence %v; load: %d acknowledged, %d failed %v",
		len(waits), fences, pct(waits, 50), pct(waits, 95), pct(waits, 100), kills, len(st.Acked), st.Failed, st.Errors)
}

func checksums(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	m, err := txnload.Checksums(ctxFor(t, 10*time.Second), db, hotLoad)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (p*len(s) + 99) / 100
	return s[max(0, min(len(s), i)-1)].Round(time.Millisecond)
}

func init() {
	// The load's connections are killed on purpose: the driver's own log
	// of each one would drown the test's.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
}

// Without PROCESS and CONNECTION ADMIN the fence cannot kill: it gives up
// at its deadline, names the grants, and its statement is stopped on the
// server, so the server stays writable.
func TestLiveFenceKillWithoutGrants(t *testing.T) {
	primary, _ := killPair(t)
	primary.CreateUserWith(t, "nokill", "pw", "READ_ONLY ADMIN")
	s := open(t, primary, "nokill", "pw", Options{LockWaitTimeout: time.Second})
	l := startLoad(t, primary)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	rep, err := s.FenceWithKill(ctx, FenceKillOptions{})
	cancel()
	t.Logf("without the grants: %v (waited %s, %d rounds)", err, rep.Waited.Round(time.Millisecond), rep.Rounds)
	if err == nil || !strings.Contains(err.Error(), "needs PROCESS and CONNECTION ADMIN") || len(rep.Killed) != 0 {
		t.Fatalf("FenceWithKill without the grants: %v, killed %v", err, rep.Killed)
	}
	time.Sleep(500 * time.Millisecond)
	if got := primary.QueryString(t, "SELECT @@GLOBAL.read_only"); got != "0" {
		t.Errorf("read_only = %s after the fence gave up: it landed later", got)
	}
	n := len(l.Snapshot().Acked)
	waitFor(t, 10*time.Second, func() bool { return len(l.Snapshot().Acked) > n })
}

// A fence that FenceWithKill sent and whose drain was then killed can still
// wait on the server; KillPendingFences (the drain's recovery) must find
// the statement as FenceWithKill sends it and end it, so that it cannot
// land after the undo.
func TestLiveKillPendingFence(t *testing.T) {
	primary, _ := killPair(t)
	hc := open(t, primary, hcUser, hcPass, Options{})
	app, err := sql.Open("mysql", primary.DSN(appUser, appPass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	ctx := ctxFor(t, 30*time.Second)
	// An open transaction holding a row, and a statement waiting for it:
	// the fence waits for that statement.
	holder, err := app.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "UPDATE txnload.t1 SET k = k + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(context.Background(), "ROLLBACK")
	waiter := make(chan error, 1)
	go func() {
		_, err := app.ExecContext(ctx, "UPDATE txnload.t1 SET k = k + 1 WHERE id = 1")
		waiter <- err
	}()
	waitFor(t, 10*time.Second, func() bool {
		rows, err := hc.ProcessList(ctx)
		for _, r := range rows {
			if err == nil && r.LockWait && r.Info != "" {
				return true
			}
		}
		return false
	})
	fenced := make(chan error, 1)
	go func() {
		conn, err := hc.db.Conn(ctx)
		if err == nil {
			defer conn.Close()
			_, err = conn.ExecContext(ctx, fenceStatement(MariaDB, 20))
		}
		fenced <- err
	}()
	waitFor(t, 10*time.Second, func() bool {
		rows, err := hc.ProcessList(ctx)
		for _, r := range rows {
			if err == nil && strings.HasPrefix(r.Info, "SET SESSION lock_wait_timeout") {
				return true
			}
		}
		return false
	})
	n, err := hc.KillPendingFences(ctx)
	if err != nil || n != 1 {
		t.Fatalf("KillPendingFences = %d, %v; want the one fence waiting", n, err)
	}
	select {
	case err := <-fenced:
		if err == nil {
			t.Fatal("the fence landed; want it ended by KillPendingFences")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fence still waits after KillPendingFences")
	}
	if st, err := hc.ReadOnly(ctx); err != nil || st.ReadOnly {
		t.Errorf("read_only after the pending fence was ended: %+v, %v; want OFF", st, err)
	}
	holder.ExecContext(ctx, "ROLLBACK")
	if err := <-waiter; err != nil {
		t.Errorf("the waiting UPDATE: %v", err)
	}
}
