package mariadbtest

import (
	"context"
	"database/sql"
	"os"
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

func TestStartFailsClearly(t *testing.T) {
	if _, _, err := Binaries(Options{}); err != nil {
		t.Skip(err)
	}
	_, err := StartProcess(Options{ExtraConfig: []string{"no-such-option-at-all=1"}, StartTimeout: 20 * time.Second})
	if err == nil {
		t.Fatal("mariadbd started with an unknown option")
	}
	if !strings.Contains(err.Error(), "no-such-option-at-all") {
		t.Errorf("error does not show the error log: %v", err)
	}

	_, err = StartProcess(Options{Mariadbd: "/nonexistent/mariadbd"})
	if !IsNotInstalled(err) {
		t.Errorf("missing binary: %v, want ErrNotInstalled", err)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":     "'plain'",
		"it's":      `'it\'s'`,
		`back\`:     `'back\\'`,
		"nl\nx\x00": `'nl\nx\0'`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
