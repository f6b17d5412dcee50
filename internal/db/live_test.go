package db

// Tests against real mariadbd processes (internal/mariadbtest). They skip
// when mariadbd is not installed, and fail instead when CI is set.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/mariadbtest"
)

const (
	hcUser  = "hacheck"
	hcPass  = "hc-pass-7f3a"
	appUser = "app"
	appPass = "app-pass-19bc"
)

// node is one test server with the hacheck and app accounts on it.
func node(t *testing.T) *mariadbtest.Server {
	t.Helper()
	s := mariadbtest.Start(t, mariadbtest.Options{})
	s.CreateHacheckUser(t, hcUser, hcPass)
	s.CreateUserWith(t, appUser, appPass, "SELECT, INSERT, UPDATE, DELETE")
	return s
}

// pair is a primary and its GTID replica, both with an app.t table.
func pair(t *testing.T) (primary, replica *mariadbtest.Server) {
	t.Helper()
	primary, replica = node(t), node(t)
	replica.MakeReplicaOf(t, primary)
	primary.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
	replica.WaitCaughtUp(t, primary, 10*time.Second)
	return primary, replica
}

func open(t *testing.T, s *mariadbtest.Server, user, pass string, opts Options) *Server {
	t.Helper()
	srv, err := Open(s.DSN(user, pass), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func TestLiveReplicaStatusAndChecks(t *testing.T) {
	primary, replica := pair(t)
	p := open(t, primary, hcUser, hcPass, Options{})
	r := open(t, replica, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 20*time.Second)

	if d, err := r.Dialect(ctx); err != nil || d != MariaDB {
		t.Fatalf("Dialect = %v, %v", d, err)
	}
	if id, err := r.ServerID(ctx); err != nil || id != replica.ServerID {
		t.Errorf("ServerID = %d, %v; want %d", id, err, replica.ServerID)
	}
	primary.Exec(t, "CREATE DATABASE IF NOT EXISTS gtid_probe")
	replica.WaitCaughtUp(t, primary, 10*time.Second)
	st, err := r.ReplicaStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || !st.IOThreadRunning() || !st.SQLThreadRunning() || !st.UsesGTID() ||
		st.SourcePort != primary.Port || st.SourceHost != primary.Host || st.SourceServerID != primary.ServerID ||
		st.UsingGTID != "Slave_Pos" || st.SecondsBehind == nil || st.Channels != 1 {
		t.Fatalf("replica status = %+v", st)
	}
	// MariaDB's status row has no applied position; ReplicaStatus reads
	// @@gtid_slave_pos for it (a successor choice counts lag from it).
	if slavePos := replica.QueryString(t, "SELECT @@GLOBAL.gtid_slave_pos"); slavePos == "" || st.ExecutedGTIDs != slavePos {
		t.Errorf("ExecutedGTIDs = %q, want @@gtid_slave_pos %q (not empty after a replicated write)", st.ExecutedGTIDs, slavePos)
	}
	if st, err := p.ReplicaStatus(ctx); err != nil || st != nil {
		t.Errorf("primary's ReplicaStatus = %+v, %v; want nil, nil", st, err)
	}
	if err := r.Alive(ctx); err != nil {
		t.Errorf("Alive on the replica: %v", err)
	}
	if ok, d := replicaVerdict(ctx, r, ReplicaPolicy{MaxLag: time.Minute}); !ok {
		t.Errorf("replica verdict on the replica: %s", d)
	} else {
		t.Logf("replica verdict: %s", d)
	}
	if ok, d := replicaVerdict(ctx, p, ReplicaPolicy{}); ok || !strings.Contains(d, "not a replica") {
		t.Errorf("replica verdict on the primary: %v %s", ok, d)
	}

	// Break replication: a row written on the replica, then the same key on
	// the primary, stops the replica's SQL thread.
	replica.Exec(t, "INSERT INTO app.t VALUES (1, 'replica')")
	primary.Exec(t, "INSERT INTO app.t VALUES (1, 'primary')")
	var ok bool
	var d string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// The error shows while the SQL thread is still stopping: wait
		// for the stopped thread.
		if ok, d = replicaVerdict(ctx, r, ReplicaPolicy{}); !ok && strings.Contains(d, "replica SQL thread stopped") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok || !strings.Contains(d, "replica SQL thread stopped") ||
		!strings.Contains(d, "Last_SQL_Errno=1062") || !strings.Contains(d, "Duplicate entry '1'") {
		t.Errorf("after a duplicate key: %v %s", ok, d)
	}
	t.Logf("broken replica verdict: %s", d)
}

// replicaVerdict reads s's replica status and judges it, as the replica
// check does (check.MySQLReplica, tested live in package check).
func replicaVerdict(ctx context.Context, s *Server, p ReplicaPolicy) (bool, string) {
	st, err := s.ReplicaStatus(ctx)
	if err != nil {
		return false, err.Error()
	}
	return EvaluateReplica(st, p)
}

func TestLiveIOThreadReconnects(t *testing.T) {
	primary, replica := pair(t)
	r := open(t, replica, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 60*time.Second)

	if err := primary.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitVerdict := func(wantOK bool, contains string) string {
		t.Helper()
		var ok bool
		var d string
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			ok, d = replicaVerdict(qctx, r, ReplicaPolicy{})
			cancel()
			if ok == wantOK && strings.Contains(d, contains) {
				return d
			}
		}
		t.Fatalf("replica verdict never became ok=%v with %q; last: %v %s", wantOK, contains, ok, d)
		return d
	}
	t.Logf("source down: %s", waitVerdict(false, "replica IO thread connecting"))
	if err := primary.Restart(); err != nil {
		t.Fatal(err)
	}
	t.Logf("source back: %s", waitVerdict(true, "IO and SQL threads running"))
}

func TestLiveFence(t *testing.T) {
	primary := node(t)
	primary.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))")
	hc := open(t, primary, hcUser, hcPass, Options{LockWaitTimeout: time.Second})
	app, err := sql.Open("mysql", primary.DSN(appUser, appPass))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx := ctxFor(t, 30*time.Second)

	if _, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (1, 'before')"); err != nil {
		t.Fatal(err)
	}
	if err := hc.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	ro, err := hc.ReadOnly(ctx)
	if err != nil || !ro.Fenced() || ro.String() != "read_only=ON" {
		t.Fatalf("ReadOnly = %v, %v", ro, err)
	}
	_, err = app.ExecContext(ctx, "INSERT INTO app.t VALUES (2, 'fenced')")
	if mysqlErrno(err) != 1290 || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write while fenced: %v, want error 1290 (read-only)", err)
	}
	t.Logf("fenced write: %v", err)
	// Fencing twice is fine.
	if err := hc.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := hc.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	if ro, err := hc.ReadOnly(ctx); err != nil || ro.Fenced() {
		t.Fatalf("after unfence: %v, %v", ro, err)
	}
	if _, err := app.ExecContext(ctx, "INSERT INTO app.t VALUES (3, 'after')"); err != nil {
		t.Fatalf("write after unfence: %v", err)
	}

	// A write statement in progress holds up SET GLOBAL read_only; the
	// fence gives up after the lock wait timeout instead of hanging.
	done := make(chan error, 1)
	go func() {
		_, err := app.ExecContext(ctx, "UPDATE app.t SET v = SLEEP(4) WHERE id = 1")
		done <- err
	}()
	waitFor(t, 5*time.Second, func() bool {
		return primary.QueryString(t, "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'UPDATE app.t SET v = SLEEP%'") == "1"
	})
	start := time.Now()
	err = hc.SetReadOnly(ctx, true)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("fence succeeded while a write ran (took %s)", took)
	}
	if took > 2500*time.Millisecond || mysqlErrno(err) != 1205 || !strings.HasPrefix(err.Error(), "fence hacheck:***@tcp(") {
		t.Errorf("blocked fence: %v after %s; want lock wait timeout (1205) within about 1s", err, took)
	}
	t.Logf("blocked fence: %v after %s", err, took.Round(time.Millisecond))
	if err := <-done; err != nil {
		t.Errorf("the slow update: %v", err)
	}
	if err := hc.SetReadOnly(ctx, true); err != nil {
		t.Errorf("fence once the write finished: %v", err)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %s", d)
}

// Each privilege of HacheckGrants is needed: without it, one operation
// fails with "access denied"; with all of them, everything works (the
// cutover test runs entirely as that user).
func TestLiveGrantsMinimal(t *testing.T) {
	primary, replica := pair(t)
	ctx := ctxFor(t, 30*time.Second)
	grants := strings.Split(mariadbtest.HacheckGrants, ", ")
	ops := map[string]func(s *Server) error{
		"SLAVE MONITOR": func(s *Server) error { _, err := s.ReplicaStatus(ctx); return err },
		"READ_ONLY ADMIN": func(s *Server) error {
			if err := s.SetReadOnly(ctx, true); err != nil {
				return err
			}
			return s.SetReadOnly(ctx, false)
		},
		"REPLICATION SLAVE ADMIN": func(s *Server) error {
			if err := s.StopReplica(ctx); err != nil {
				return err
			}
			return s.StartReplica(ctx)
		},
		// INNODB_TRX needs PROCESS; without it PROCESSLIST shows only one's own.
		"PROCESS": func(s *Server) error { _, err := s.ProcessList(ctx); return err },
		"CONNECTION ADMIN": func(s *Server) error {
			app, err := sql.Open("mysql", replica.DSN(appUser, appPass))
			if err != nil {
				return err
			}
			defer app.Close()
			var id int64
			if err := app.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				return err
			}
			_, err = s.db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
			return err
		},
	}
	if len(ops) != len(grants) {
		t.Fatalf("grants %q but %d operations", grants, len(ops))
	}
	for i, missing := range grants {
		rest := append(append([]string{}, grants[:i]...), grants[i+1:]...)
		user := fmt.Sprintf("lacks%d", i)
		replica.CreateUserWith(t, user, "pw", strings.Join(rest, ", "))
		s := open(t, replica, user, "pw", Options{})
		err := ops[missing](s)
		if n := mysqlErrno(err); n != 1227 && n != 1045 && n != 1142 && n != 1095 {
			t.Errorf("without %s: %v; want access denied", missing, err)
		} else {
			t.Logf("without %s: %v", missing, err)
		}
	}
	full := open(t, replica, hcUser, hcPass, Options{})
	for _, g := range grants {
		if err := ops[g](full); err != nil {
			t.Errorf("with %s: %v", mariadbtest.HacheckGrants, err)
		}
	}
	// Reading GTID positions and waiting needs no privilege at all.
	replica.CreateUserWith(t, "nopriv", "pw", "")
	np := open(t, replica, "nopriv", "pw", Options{})
	pos, err := open(t, primary, hcUser, hcPass, Options{}).GTIDPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := np.WaitForGTID(ctx, pos, 5*time.Second); err != nil {
		t.Errorf("WaitForGTID without privileges: %v", err)
	}
	if ok, err := np.HasApplied(ctx, pos); err != nil || !ok {
		t.Errorf("HasApplied without privileges: %v, %v", ok, err)
	}
	if _, err := np.ReadOnly(ctx); err != nil {
		t.Errorf("ReadOnly without privileges: %v", err)
	}
}

func TestLiveWaitForGTID(t *testing.T) {
	primary, replica := pair(t)
	p := open(t, primary, hcUser, hcPass, Options{})
	r := open(t, replica, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 60*time.Second)

	primary.Exec(t, "INSERT INTO app.t VALUES (1, 'a'), (2, 'b')")
	pos, err := p.GTIDPosition(ctx)
	if err != nil || pos == "" {
		t.Fatalf("GTIDPosition = %q, %v", pos, err)
	}
	if err := r.WaitForGTID(ctxFor(t, 5*time.Second), pos, 3*time.Second); err != nil {
		t.Fatalf("WaitForGTID(%s): %v", pos, err)
	}
	if ok, err := r.HasApplied(ctx, pos); err != nil || !ok {
		t.Fatalf("HasApplied(%s) = %v, %v", pos, ok, err)
	}
	if err := r.WaitForGTID(ctx, "", time.Second); err != nil {
		t.Errorf("WaitForGTID(empty): %v", err)
	}

	// With the SQL thread stopped the replica falls behind.
	replica.Exec(t, "STOP SLAVE SQL_THREAD")
	primary.Exec(t, "INSERT INTO app.t VALUES (3, 'c')")
	pos2, err := p.GTIDPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.HasApplied(ctx, pos2); err != nil || ok {
		t.Errorf("HasApplied(%s) with the SQL thread stopped = %v, %v", pos2, ok, err)
	}
	if ok, err := r.HasApplied(ctx, pos); err != nil || !ok {
		t.Errorf("HasApplied(old %s) = %v, %v", pos, ok, err)
	}

	// The server-side timeout ends the wait.
	start := time.Now()
	err = r.WaitForGTID(ctxFor(t, 10*time.Second), pos2, 700*time.Millisecond)
	took := time.Since(start)
	if !errors.Is(err, ErrGTIDWaitTimeout) || took < 600*time.Millisecond || took > 3*time.Second {
		t.Errorf("wait with the SQL thread stopped: %v after %s; want ErrGTIDWaitTimeout after about 0.7s", err, took)
	}
	t.Logf("timed out wait: %v", err)

	// A context shorter than the server timeout: the server-side wait is
	// cut to fit, so the call returns in time and leaves nothing behind on
	// the server.
	start = time.Now()
	err = r.WaitForGTID(ctxFor(t, time.Second), pos2, 30*time.Second)
	took = time.Since(start)
	if !errors.Is(err, ErrGTIDWaitTimeout) || took > time.Second {
		t.Errorf("wait bounded by a 1s context: %v after %s", err, took)
	}
	if n := waits(t, replica); n != "0" {
		t.Errorf("%s MASTER_GTID_WAIT still running on the server after the call returned", n)
	}

	// Why: cancelling the context alone leaves MASTER_GTID_WAIT running on
	// the server (the driver only closes its socket).
	raw, err := sql.Open("mysql", replica.DSN(hcUser, hcPass))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = raw.ExecContext(short, "DO MASTER_GTID_WAIT(?, 2)", pos2)
	cancel()
	if err == nil {
		t.Fatal("raw wait returned early without error")
	}
	if n := waits(t, replica); n != "1" {
		t.Logf("note: %s server-side waits after a cancelled context (expected 1)", n)
	} else {
		t.Log("confirmed: a cancelled context leaves MASTER_GTID_WAIT running on the server")
	}

	// Catch-up once the SQL thread runs again.
	replica.Exec(t, "START SLAVE SQL_THREAD")
	if err := r.WaitForGTID(ctxFor(t, 10*time.Second), pos2, 5*time.Second); err != nil {
		t.Fatalf("wait after START SLAVE SQL_THREAD: %v", err)
	}
	if ok, err := r.HasApplied(ctx, pos2); err != nil || !ok {
		t.Errorf("HasApplied(%s) after catch-up = %v, %v", pos2, ok, err)
	}
	if _, err := r.HasApplied(ctx, "not-a-gtid"); err == nil {
		t.Error("HasApplied(garbage): no error")
	}
}

// waits counts MASTER_GTID_WAIT calls in progress on s.
func waits(t *testing.T, s *mariadbtest.Server) string {
	t.Helper()
	return s.QueryString(t, "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE '%MASTER_GTID_WAIT%' AND id <> CONNECTION_ID()")
}

func TestLivePausedServer(t *testing.T) {
	s := node(t)
	srv := open(t, s, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 30*time.Second)
	if err := srv.Alive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Resume() })

	// A pooled connection and a brand-new one (dial works, the handshake
	// never comes) both give up at the deadline.
	fresh := open(t, s, hcUser, hcPass, Options{})
	for name, x := range map[string]*Server{"pooled": srv, "fresh": fresh} {
		start := time.Now()
		err := x.Alive(ctxFor(t, 500*time.Millisecond))
		took := time.Since(start)
		if err == nil || took > 1500*time.Millisecond {
			t.Errorf("%s ping of a paused server: %v after %s", name, err, took)
		}
		t.Logf("%s ping of a paused server: %v after %s", name, err, took.Round(time.Millisecond))
	}
	// Without a context deadline the query timeout applies.
	slow := open(t, s, hcUser, hcPass, Options{QueryTimeout: 400 * time.Millisecond})
	start := time.Now()
	if _, err := slow.ReplicaStatus(context.Background()); err == nil || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("ReplicaStatus without deadline on a paused server: %v after %s", err, time.Since(start))
	}

	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Alive(ctxFor(t, 5*time.Second)); err != nil {
		t.Errorf("ping after SIGCONT: %v", err)
	}
}

func TestLiveWrongPassword(t *testing.T) {
	s := node(t)
	const wrong = "wrong-pw-4c1d"
	srv := open(t, s, hcUser, wrong, Options{})
	err := srv.Alive(ctxFor(t, 5*time.Second))
	if err == nil {
		t.Fatal("ping with a wrong password succeeded")
	}
	masked := fmt.Sprintf("%s:***@tcp(%s)/", hcUser, s.Addr)
	if !strings.Contains(err.Error(), masked) || strings.Contains(err.Error(), wrong) || mysqlErrno(err) != 1045 {
		t.Errorf("error %q: want errno 1045, %q in it and no password", err, masked)
	}
	t.Logf("wrong password: %v", err)

	// An invalid source is refused before any SQL, without its password.
	full := open(t, s, hcUser, hcPass, Options{})
	err = full.ChangeSource(ctxFor(t, 5*time.Second), Source{Host: "127.0.0.1", Port: 0, User: "x", Password: "src-secret"})
	if err == nil || strings.Contains(err.Error(), "src-secret") {
		t.Errorf("bad source: %v", err)
	}
}

// writer inserts rows into app.t until its first error, which must be the
// fence (1290), and reports how many it committed.
func writer(t *testing.T, db *sql.DB, from int, stop <-chan struct{}) (wait func() int) {
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := from; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := db.ExecContext(ctx, "INSERT INTO app.t VALUES (?, 'w')", i)
			cancel()
			if err != nil {
				if mysqlErrno(err) != 1290 {
					t.Errorf("writer: %v", err)
				}
				return
			}
			n++
		}
	}()
	return func() int { wg.Wait(); return n }
}

func count(t *testing.T, s *mariadbtest.Server) string {
	t.Helper()
	return s.QueryString(t, "SELECT CONCAT(COUNT(*), '/', COALESCE(MAX(id), 0)) FROM app.t")
}

// cutover moves the primary role from old to new as hacheck does, using
// only the hacheck account, and makes old a replica of new.
func cutover(t *testing.T, ctx context.Context, old, new *Server, newSrv *mariadbtest.Server) {
	t.Helper()
	if err := old.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	pos, err := old.GTIDPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := new.WaitForGTID(ctx, pos, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, err := new.HasApplied(ctx, pos); err != nil || !ok {
		t.Fatalf("HasApplied(%s) on the new primary after the wait: %v, %v", pos, ok, err)
	}
	if err := new.StopReplica(ctx); err != nil {
		t.Fatal(err)
	}
	if err := new.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	src := Source{Host: newSrv.Host, Port: newSrv.Port, User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword}
	if err := old.ChangeSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := old.StartReplica(ctx); err != nil {
		t.Fatal(err)
	}
	// The IO thread shows "Preparing", then "Connecting", before "Yes".
	var d string
	waitFor(t, 10*time.Second, func() bool {
		var ok bool
		ok, d = replicaVerdict(ctx, old, ReplicaPolicy{})
		return ok
	})
	t.Logf("old primary now: %s", d)
}

func TestLiveReverseReplication(t *testing.T) {
	a, b := pair(t)
	ha := open(t, a, hcUser, hcPass, Options{})
	hb := open(t, b, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 60*time.Second)
	appA, _ := sql.Open("mysql", a.DSN(appUser, appPass))
	appB, _ := sql.Open("mysql", b.DSN(appUser, appPass))
	defer appA.Close()
	defer appB.Close()

	// Round 1: the application writes to A until the fence stops it.
	stop := make(chan struct{})
	wait := writer(t, appA, 1, stop)
	time.Sleep(300 * time.Millisecond)
	cutover(t, ctx, ha, hb, b)
	close(stop)
	n1 := wait()
	if n1 == 0 {
		t.Fatal("the writer committed nothing before the fence")
	}
	want := fmt.Sprintf("%d/%d", n1, n1)
	if got := count(t, b); got != want {
		t.Fatalf("new primary B has %s rows/max id, A committed %s", got, want)
	}

	// B takes writes, A follows B with nothing lost or applied twice.
	stop = make(chan struct{})
	wait = writer(t, appB, 100000, stop)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	n2 := wait()
	a.WaitCaughtUp(t, b, 10*time.Second)
	st, err := ha.ReplicaStatus(ctx)
	if err != nil || st == nil || st.SourceServerID != b.ServerID || !st.SQLThreadRunning() || st.LastSQLErrno != 0 {
		t.Fatalf("A's replica status: %+v, %v", st, err)
	}
	if ok, d := EvaluateReplica(st, ReplicaPolicy{}); !ok {
		t.Fatalf("A as replica of B: %s", d)
	}
	want = fmt.Sprintf("%d/%d", n1+n2, 100000+n2-1)
	if n2 == 0 {
		want = fmt.Sprintf("%d/%d", n1, n1)
	}
	for name, s := range map[string]*mariadbtest.Server{"A": a, "B": b} {
		if got := count(t, s); got != want {
			t.Errorf("%s has %s rows/max id, want %s", name, got, want)
		}
	}
	t.Logf("round 1: %d rows written on A, %d on B; A %s, B %s", n1, n2, a.QueryString(t, "SELECT @@gtid_current_pos"), b.QueryString(t, "SELECT @@gtid_current_pos"))

	// Round 2, back to A: B now has a stale gtid_slave_pos from when it
	// followed A, and its own writes in its binary log.
	stop = make(chan struct{})
	wait = writer(t, appB, 200000, stop)
	time.Sleep(200 * time.Millisecond)
	cutover(t, ctx, hb, ha, a)
	close(stop)
	n3 := wait()
	stop = make(chan struct{})
	wait = writer(t, appA, 300000, stop)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	n4 := wait()
	b.WaitCaughtUp(t, a, 10*time.Second)
	total := n1 + n2 + n3 + n4
	ca, cb := count(t, a), count(t, b)
	if ca != cb || !strings.HasPrefix(ca, fmt.Sprintf("%d/", total)) {
		t.Errorf("after round 2: A %s, B %s, want %d rows on both", ca, cb, total)
	}
	if d := a.QueryString(t, "SELECT COUNT(*) FROM app.t WHERE id BETWEEN 200000 AND 299999"); d != fmt.Sprint(n3) {
		t.Errorf("A has %s of the %d rows written on B in round 2", d, n3)
	}
	stB, err := hb.ReplicaStatus(ctx)
	if err != nil || stB == nil || stB.SourceServerID != a.ServerID {
		t.Fatalf("B's replica status: %+v, %v", stB, err)
	}
	if ok, d := EvaluateReplica(stB, ReplicaPolicy{}); !ok {
		t.Errorf("B as replica of A: %s", d)
	}
	t.Logf("round 2: %d rows on B, %d on A; A %s, B %s", n3, n4, a.QueryString(t, "SELECT @@gtid_current_pos"), b.QueryString(t, "SELECT @@gtid_current_pos"))
}

// Why ChangeSource sets gtid_slave_pos first: the old primary has its own
// transactions only in its binary log, so with MASTER_USE_GTID=slave_pos
// alone it asks the new primary for its whole history, which fails once
// that history is purged.
func TestLiveFollowNewPrimaryAfterPurge(t *testing.T) {
	a, b := pair(t)
	ha := open(t, a, hcUser, hcPass, Options{})
	hb := open(t, b, hcUser, hcPass, Options{})
	ctx := ctxFor(t, 60*time.Second)
	a.Exec(t, "INSERT INTO app.t VALUES (1, 'a'), (2, 'a')")

	if err := ha.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	pos, err := ha.GTIDPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := hb.WaitForGTID(ctx, pos, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := hb.StopReplica(ctx); err != nil {
		t.Fatal(err)
	}
	if err := hb.SetReadOnly(ctx, false); err != nil {
		t.Fatal(err)
	}
	// B purges the history it took over from A (A has all of it), then
	// takes new writes.
	b.Exec(t, "FLUSH BINARY LOGS")
	logs := binlogs(t, b)
	current := logs[len(logs)-1]
	// MariaDB keeps a binlog file (with only a warning) until InnoDB's
	// checkpoint has passed it: retry until the purge took.
	waitFor(t, 10*time.Second, func() bool {
		b.Exec(t, fmt.Sprintf("PURGE BINARY LOGS TO '%s'", current))
		return firstBinlog(t, b) == current
	})
	b.Exec(t, "INSERT INTO app.t VALUES (3, 'b')", "INSERT INTO app.t VALUES (4, 'b')")
	t.Logf("A: gtid_binlog_pos %q gtid_slave_pos %q", a.QueryString(t, "SELECT @@gtid_binlog_pos"), a.QueryString(t, "SELECT @@gtid_slave_pos"))

	// The naive way.
	a.Exec(t, fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
		b.Host, b.Port, mariadbtest.ReplUser, mariadbtest.ReplPassword), "START SLAVE")
	var st *ReplicaStatus
	waitFor(t, 10*time.Second, func() bool {
		st, err = ha.ReplicaStatus(ctx)
		return err == nil && st != nil && (st.LastIOErrno != 0 || a.QueryString(t, "SELECT COUNT(*) FROM app.t") == "4")
	})
	if st.LastIOErrno != 1236 {
		t.Errorf("naive CHANGE MASTER: %+v; want Last_IO_Errno 1236 (history purged)", st)
	}
	t.Logf("naive CHANGE MASTER: Last_IO_Errno=%d Last_IO_Error=%q", st.LastIOErrno, st.LastIOError)

	// ChangeSource.
	src := Source{Host: b.Host, Port: b.Port, User: mariadbtest.ReplUser, Password: mariadbtest.ReplPassword}
	if err := ha.ChangeSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := ha.StartReplica(ctx); err != nil {
		t.Fatal(err)
	}
	a.WaitCaughtUp(t, b, 10*time.Second)
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.WaitReplicaRunning(waitCtx); err != nil {
		t.Fatal(err)
	}
	if got := a.QueryString(t, "SELECT GROUP_CONCAT(id ORDER BY id) FROM app.t"); got != "1,2,3,4" {
		t.Errorf("A has rows %s, want 1,2,3,4", got)
	}
	st, err = ha.ReplicaStatus(ctx)
	if ok, d := EvaluateReplica(st, ReplicaPolicy{}); err != nil || !ok {
		t.Errorf("A following B: %s %v", d, err)
	}
}

// firstBinlog is the oldest binary log file s still has.
func firstBinlog(t *testing.T, s *mariadbtest.Server) string {
	t.Helper()
	return binlogs(t, s)[0]
}

// binlogs lists the binary log files s has, oldest first.
func binlogs(t *testing.T, s *mariadbtest.Server) []string {
	t.Helper()
	rows, err := s.DB().Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	cols, vals, err := scanRows(rows)
	if err != nil || len(vals) == 0 || len(cols) == 0 {
		t.Fatalf("SHOW BINARY LOGS: %v", err)
	}
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = v[0].String
	}
	return names
}
