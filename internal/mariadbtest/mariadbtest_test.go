package mariadbtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartReplicateStop(t *testing.T) {
	primary, replica := StartPair(t)
	if primary.ServerID == replica.ServerID {
		t.Fatalf("both servers have server_id %d", primary.ServerID)
	}
	if got := replica.QueryString(t, "SELECT @@server_id"); got != strconv.Itoa(int(replica.ServerID)) {
		t.Errorf("@@server_id = %s, want %d", got, replica.ServerID)
	}
	for _, v := range []string{"log_bin", "log_slave_updates"} {
		if got := primary.QueryString(t, "SELECT @@"+v); got != "1" {
			t.Errorf("@@%s = %s, want 1", v, got)
		}
	}
	if got := primary.QueryString(t, "SELECT @@binlog_format"); got != "ROW" {
		t.Errorf("@@binlog_format = %s, want ROW", got)
	}
	// The harness's own accounts are not in the binary log.
	if got := primary.QueryString(t, "SELECT @@gtid_binlog_pos"); got != "" {
		t.Errorf("fresh primary's gtid_binlog_pos = %q, want empty", got)
	}

	primary.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1), (2)")
	replica.WaitCaughtUp(t, primary, 10*time.Second)
	if got := replica.QueryString(t, "SELECT COUNT(*) FROM app.t"); got != "2" {
		t.Errorf("replica has %s rows, want 2", got)
	}

	// root over TCP with the password.
	db, err := sql.Open("mysql", primary.RootDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("root over TCP: %v", err)
	}

	// Stop removes the directory and is idempotent; Cleanup calls it again.
	dir := replica.Dir
	pid := replica.Pid()
	if err := replica.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Stop: %v", dir, err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("pid %d still alive after Stop", pid)
	}
	if err := replica.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestPauseKillRestart(t *testing.T) {
	s := Start(t, Options{CommandPrefix: []string{"env"}})
	s.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1)")

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err := s.QueryStringContext(ctx, "SELECT 1")
	cancel()
	if err == nil {
		t.Fatal("a paused server answered")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if got := s.QueryString(t, "SELECT 1"); got != "1" {
		t.Fatalf("after resume: %s", got)
	}

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if s.Running() || s.Pid() != 0 {
		t.Fatalf("running after Kill (pid %d)", s.Pid())
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := s.QueryString(t, "SELECT COUNT(*) FROM app.t"); got != "1" {
		t.Errorf("after crash and restart: %s rows, want 1", got)
	}

	// A paused server still stops.
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("stopping a paused server took %s", d)
	}
}

// fakeTB records Fatal and Skip instead of ending the test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.skip = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

func TestStartWithoutMariadbd(t *testing.T) {
	run := func(ci string) *fakeTB {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			Start(f, Options{Mariadbd: "/nonexistent/mariadbd"})
		}()
		<-done
		return f
	}
	if f := run(""); f.skip == "" || f.fatal != "" {
		t.Errorf("without CI: skip %q, fatal %q; want a skip", f.skip, f.fatal)
	}
	if f := run("true"); f.fatal == "" || !strings.Contains(f.fatal, "mariadb-server") {
		t.Errorf("with CI: skip %q, fatal %q; want a fatal naming mariadb-server", f.skip, f.fatal)
	}
}

// The lab runs servers inside network namespaces on 192.0.2.x: bind
// address, port and command prefix work together, and the harness still
// talks to the server over its socket. Wiring namespaces together is the
// lab's business; one namespace is enough here.
func TestStartInNetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	ns := fmt.Sprintf("mdbt%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", "192.0.2.1/32", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	s := Start(t, Options{BindAddress: "192.0.2.1", Port: 3306, ServerID: 1, CommandPrefix: []string{"ip", "netns", "exec", ns}})
	if got := s.QueryString(t, "SELECT @@bind_address"); got != "192.0.2.1" {
		t.Errorf("@@bind_address = %q", got)
	}
	if s.DSN("u", "p") != "u:p@tcp(192.0.2.1:3306)/?readTimeout=30s&timeout=2s&writeTimeout=10s" {
		t.Errorf("DSN = %s", s.DSN("u", "p"))
	}
	// Reachable over TCP from inside the namespace only.
	out, err := exec.Command("ip", "netns", "exec", ns, "mariadb", "-h", "192.0.2.1", "-P", "3306",
		"-uroot", "-p"+s.RootPassword, "-N", "-e", "SELECT @@server_id").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("TCP from inside the namespace: %v %s", err, out)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
}
