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

	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/state"
)

// node writes a configuration (body after node and state_dir) and returns
// its path and the state directory.
func node(t *testing.T, body string) (config, dir string) {
	t.Helper()
	d := t.TempDir()
	dir = filepath.Join(d, "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	config = filepath.Join(d, "hacheck.yaml")
	if err := os.WriteFile(config, []byte("node: test\nstate_dir: "+dir+"\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return config, dir
}

func up(t *testing.T, dir string) {
	t.Helper()
	if _, _, err := (state.Store{Dir: dir}).Set(state.Change{To: state.Up, By: "test"}); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
	full           []string // the arguments handed to the full check; nil = not
	exited         []int
}

func call(args, environ []string) result {
	var out, errOut bytes.Buffer
	var r result
	full := func(a []string) error {
		r.full = append([]string{}, a...)
		return errors.New("no hacheck in this test")
	}
	r.code = run(args, environ, &out, &errOut, full, func(c int) { r.exited = append(r.exited, c) })
	r.stdout, r.stderr = out.String(), errOut.String()
	return r
}

func TestStateOnly(t *testing.T) {
	config, dir := node(t, "check_timeout: 1s\n")
	if r := call([]string{"--config", config}, nil); r.code != exitcode.Fail || !strings.Contains(r.stdout, "never marked up") || r.full != nil {
		t.Errorf("no state: %+v", r)
	}
	up(t, dir)
	for _, args := range [][]string{{"--config", config}, {"--config=" + config}} {
		if r := call(args, []string{"PATH=/usr/bin"}); r.code != exitcode.OK || r.stdout != "OK: up\n" || r.stderr != "" || r.full != nil {
			t.Errorf("%q, up: %+v", args, r)
		}
	}
}

func TestEverythingElseIsTheFullCheck(t *testing.T) {
	config, dir := node(t, "checks: [{name: f, type: exec, command: [/bin/false]}]\n")
	up(t, dir)
	plain, _ := node(t, "")
	for _, tc := range []struct {
		name          string
		args, environ []string
	}{
		{"a live check", []string{"--config", config}, nil},
		{"an environment override", []string{"--config", plain}, []string{"HACHECK_CHECK_TIMEOUT=1s"}},
		{"--help", []string{"--help"}, nil},
		{"an argument", []string{"--config", plain, "now"}, nil},
		{"a missing file", []string{"--config", plain + ".missing"}, nil},
	} {
		r := call(tc.args, tc.environ)
		if strings.Join(r.full, " ") != strings.Join(tc.args, " ") {
			t.Errorf("%s: the full check got %q, want %q", tc.name, r.full, tc.args)
		}
		if r.code != exitcode.Usage || r.stdout != "FAIL: configuration error (see stderr)\n" || !strings.Contains(r.stderr, "no hacheck in this test") {
			t.Errorf("%s: a full check that cannot run: %+v", tc.name, r)
		}
	}
}

// A state read that hangs (here: state.json is a FIFO nobody writes) is a
// failure once check_timeout passes, with one line on stdout.
func TestDeadline(t *testing.T) {
	config, dir := node(t, "check_timeout: 200ms\n")
	fifo := filepath.Join(dir, state.FileName)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	exited := make(chan int, 1)
	done := make(chan int, 1)
	start := time.Now()
	go func() {
		done <- run([]string{"--config", config}, nil, &out, &errOut, func([]string) error { return nil }, func(c int) { exited <- c })
	}()
	var code int
	select {
	case code = <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("no exit 5 s after a check_timeout of 200ms")
	}
	took := time.Since(start)
	// Let the blocked read end: open the FIFO for writing and close it.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	<-done
	if code != exitcode.Fail || took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("exit %d after %s; want %d after about 200ms", code, took, exitcode.Fail)
	}
	if want := "FAIL: state: not read within check_timeout (200ms)\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
}

// The binaries, as installed: hacheck-check becomes the hacheck next to
// it for a configuration it does not take, and a SIGTERM (keepalived's
// script timeout) never ends it with success.
func TestBinaries(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and go is not on PATH: %v", err)
		}
		t.Skip("go is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := t.TempDir()
	for _, pkg := range []string{".", "../hacheck"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	lean := filepath.Join(bin, "hacheck-check")
	runBin := func(path string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", path, err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
	}

	stateOnly, dir := node(t, "")
	up(t, dir)
	if code, out, _ := runBin(lean, "--config", stateOnly); code != 0 || out != "OK: up\n" {
		t.Errorf("state only: exit %d %q", code, out)
	}
	for _, tc := range []struct {
		check string
		code  int
		out   string
	}{
		{"/bin/true", 0, "OK: up; 1 check passed\n"},
		{"/bin/false", 1, "FAIL: check f failed"},
	} {
		config, dir := node(t, "checks: [{name: f, type: exec, command: ["+tc.check+"]}]\n")
		up(t, dir)
		code, out, errOut := runBin(lean, "--config", config)
		fullCode, fullOut, fullErr := runBin(filepath.Join(bin, "hacheck"), "check", "--config", config)
		if code != tc.code || !strings.HasPrefix(out, tc.out) || code != fullCode || out != fullOut || errOut != fullErr {
			t.Errorf("check %s: hacheck-check %d %q %q, hacheck check %d %q %q", tc.check, code, out, errOut, fullCode, fullOut, fullErr)
		}
	}
	// Alone, without the hacheck it needs for this configuration.
	alone := filepath.Join(t.TempDir(), "hacheck-check")
	b, err := os.ReadFile(lean)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runBin(alone, "--help"); code != exitcode.Usage || !strings.Contains(out, "configuration error") || !strings.Contains(errOut, "install both there") {
		t.Errorf("alone: exit %d %q %q", code, out, errOut)
	}

	// SIGTERM while the state read hangs.
	config, dir := node(t, "check_timeout: 30s\n")
	fifo := filepath.Join(dir, state.FileName)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, lean, "--config", config)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if err == nil || cmd.ProcessState.Success() {
		t.Errorf("SIGTERM: %v, %s; want a failure", err, cmd.ProcessState)
	}
}
