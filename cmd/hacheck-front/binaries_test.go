package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/state"
)

// installed builds the front and the full program in the package's layout
// (sbin/hacheck, lib/hacheck/hacheck) and returns the front.
func installed(t *testing.T, ctx context.Context) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and go is not on PATH: %v", err)
		}
		t.Skip("go is not on PATH")
	}
	root := t.TempDir()
	front := filepath.Join(root, "sbin", "hacheck")
	for pkg, out := range map[string]string{".": front, "../hacheck": filepath.Join(root, "lib", "hacheck", "hacheck")} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return front
}

func runFront(t *testing.T, ctx context.Context, front string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, front, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %q: %v", front, args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// As installed: the front is every command; a drain runs in serve when
// serve listens on admin.socket (its state change comes from the socket),
// in the front's own process (the full program) otherwise; and the front
// killed with SIGKILL mid-drain leaves serve's drain interrupted: refused,
// nothing changed.
func TestInstalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	front := installed(t, ctx)

	if code, out, errOut := runFront(t, ctx, front, "version"); code != 0 || !strings.HasPrefix(out, "hacheck ") {
		t.Fatalf("version through the front: %d %q %q", code, out, errOut)
	}
	pre := t.TempDir()
	os.WriteFile(filepath.Join(pre, "10-gate"), []byte("#!/bin/sh\n[ -e "+pre+"/slow ] && sleep 5\nexit 0\n"), 0o755)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	config, dir := node(t, "checks: []\nlisten: 127.0.0.1:0\npreconditions_dir: "+pre+"\nadmin:\n  enabled: true\n  socket: "+sock+"\n")
	st := state.Store{Dir: dir}
	if code, out, errOut := runFront(t, ctx, front, "undrain", "--config", config); code != 0 {
		t.Fatalf("undrain: %d %q %q", code, out, errOut)
	}

	// No serve: the full program drains.
	if code, out, errOut := runFront(t, ctx, front, "drain", "--config", config, "--reason", "alone"); code != 0 || !strings.Contains(out, "drained") {
		t.Fatalf("drain without serve: %d %q %q", code, out, errOut)
	}
	if s, _ := st.Load(); s.State != state.Drained || s.Via != "cli" || s.From != "" {
		t.Fatalf("drain without serve: %+v", s)
	}
	runFront(t, ctx, front, "undrain", "--config", config)

	serve := exec.CommandContext(ctx, front, "serve", "--config", config)
	serve.Env = []string{"PATH=/usr/bin:/bin"}
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve made no admin socket:\n%s", serveLog.String())
		}
	}

	// serve runs the drain: the state change comes from the socket.
	code, out, errOut := runFront(t, ctx, front, "drain", "--config", config, "--reason", "through serve")
	if code != 0 || !strings.Contains(out, "precondition 10-gate: passed") || !strings.Contains(out, "drained (generation") || errOut != "" {
		t.Fatalf("drain through serve: %d %q %q", code, out, errOut)
	}
	if s, _ := st.Load(); s.State != state.Drained || s.Via != "cli" || !strings.HasPrefix(s.From, "unix:") || s.Reason != "through serve" {
		t.Fatalf("drain through serve: %+v", s)
	}
	// Already drained: the same words and exit as the CLI's own.
	if code, out, _ := runFront(t, ctx, front, "drain", "--config", config); code != 0 || !strings.Contains(out, "already drained") {
		t.Fatalf("drain again: %d %q", code, out)
	}
	runFront(t, ctx, front, "undrain", "--config", config)

	// SIGKILL of the front while serve's drain waits in its precondition.
	os.WriteFile(filepath.Join(pre, "slow"), nil, 0o644)
	cmd := exec.CommandContext(ctx, front, "drain", "--config", config, "--reason", "killed")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	killed := time.Now()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rec, ok, _ := drain.LoadRecord(st)
		if ok && rec.Reason == "killed" {
			if rec.Outcome != "refused" {
				t.Fatalf("serve's drain after its CLI was killed: %+v", rec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve's drain did not end after its CLI was killed:\n%s", serveLog.String())
		}
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatalf("after the kill: %+v", s)
	}
	t.Logf("serve ended the drain %s after its CLI was killed", time.Since(killed).Round(time.Millisecond))

	// Ctrl-C (SIGINT) of the front: serve interrupts the drain and the
	// front shows its end and exits 1, as the CLI's own drain does.
	cmd = exec.CommandContext(ctx, front, "drain", "--config", config, "--reason", "interrupted")
	var sout, serr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &sout, &serr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(sout.String(), "precondition 10-gate: running") || !strings.Contains(serr.String(), "hacheck: ") {
		t.Fatalf("SIGINT: exit %d, stdout %q, stderr %q", code, sout.String(), serr.String())
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatalf("after SIGINT: %+v", s)
	}
}
