package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/state"
)

// hacheckRun runs `hacheck --config C run ARGS...` in-process: the
// configuration goes first, as everything after the command is the
// command's own.
func (n *testNode) hacheckRun(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"--config", n.config, "run"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestRunStates: `hacheck run` on each state read from real files runs the
// command (and passes its exit status through) or skips it, saying why.
func TestRunStates(t *testing.T) {
	undrain := func(n *testNode) { n.hacheck("undrain") }
	for _, tt := range []struct {
		name   string
		extra  string
		setup  func(n *testNode)
		args   []string
		code   int
		ran    bool
		stderr string
	}{
		{"up: the exit status comes through", "", undrain, []string{"--role", "up", "--", "sh", "-c", "touch ran; exit 7"}, 7, true, ""},
		{"up: success", "", undrain, []string{"--role", "up", "--", "touch", "ran"}, ExitOK, true, ""},
		{"up, no --: the command's flags are its own", "", undrain, []string{"--role", "up", "sh", "-c", "touch ran; exit 3", "--role"}, 3, true, ""},
		{"drained: skipped", "", func(n *testNode) { undrain(n); n.hacheck("drain", "--reason", "maint") }, []string{"--role", "up", "--", "touch", "ran"}, ExitOK, false, "skipped: not up: the state is drained"},
		{"drained: --skip-exit", "", func(n *testNode) { undrain(n); n.hacheck("drain") }, []string{"--role", "up", "--skip-exit", "3", "--", "touch", "ran"}, 3, false, "skipped"},
		{"missing state: skipped", "", nil, []string{"--role", "up", "--", "touch", "ran"}, ExitOK, false, "the state cannot be read"},
		{"corrupt state: skipped", "", func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte("{"), 0o644)
		}, []string{"--role", "primary", "--", "touch", "ran"}, ExitOK, false, "the state cannot be read"},
		{"primary without a vip: skipped", "", undrain, []string{"--", "touch", "ran"}, ExitOK, false, "not primary: no vip is configured"},
		{"primary, VIP unreadable: skipped", "vip: {address: 192.0.2.250/32, interface: hacheck-nonesuch}\n", undrain, []string{"--role", "primary", "--", "touch", "ran"}, ExitOK, false, "whether this node holds the VIP is unknown"},
		{"replica without mysql.dsn: skipped", "", undrain, []string{"--role", "replica", "--", "touch", "ran"}, ExitOK, false, "not replica: no mysql.dsn"},
		{"command not found", "", undrain, []string{"--role", "up", "--", "hacheck-no-such-command"}, ExitNotFound, false, "hacheck-no-such-command"},
		{"killed by a signal: 128+N", "", undrain, []string{"--role", "up", "--", "sh", "-c", "touch ran; kill -KILL $$"}, 128 + 9, true, ""},
		{"the command drains the node (--force: a drain waits for the job otherwise): role changed", "", undrain, []string{"--role", "up", "--", "sh", "-c", "touch ran; \"$HACHECK_TEST_BIN\" drain --force --config \"$HACHECK_TEST_CONFIG\" >/dev/null 2>&1; exit 5"}, ExitRoleChanged, true, "role changed while the command ran: not up: the state is drained"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.extra)
			if tt.setup != nil {
				tt.setup(n)
			}
			if strings.Contains(strings.Join(tt.args, " "), "HACHECK_TEST_BIN") {
				t.Setenv("HACHECK_TEST_BIN", buildHacheck(t))
				t.Setenv("HACHECK_TEST_CONFIG", n.config)
			}
			t.Chdir(n.dir)
			code, _, errOut := n.hacheckRun(tt.args...)
			_, err := os.Stat(filepath.Join(n.dir, "ran"))
			if code != tt.code || (err == nil) != tt.ran || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, ran %v, stderr %q; want exit %d, ran %v, stderr with %q", code, err == nil, errOut, tt.code, tt.ran, tt.stderr)
			}
			if !tt.ran && strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("a skip says why in one line, got:\n%s", errOut)
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	n := newNode(t, "")
	for _, args := range [][]string{{"--role", "master", "--", "true"}, {"--role", "up"}, {"--skip-exit", "300", "--", "true"}} {
		if code, _, errOut := n.hacheckRun(args...); code != ExitUsage || !strings.Contains(errOut, "hacheck: ") {
			t.Errorf("%q: exit %d %q; want %d", args, code, errOut, ExitUsage)
		}
	}
}

// TestRunForwardsSIGTERM: hacheck run as its own process passes SIGTERM on
// to the command, and the command's exit status comes back.
func TestRunForwardsSIGTERM(t *testing.T) {
	bin := buildHacheck(t)
	n := newNode(t, "")
	n.hacheck("undrain")
	ready := filepath.Join(n.dir, "ready")
	got := filepath.Join(n.dir, "got")
	script := "trap 'echo TERM > " + got + "; exit 7' TERM; touch " + ready + "; while :; do sleep 0.05; done"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config", n.config, "run", "--role", "up", "--", "sh", "-c", script)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the command never started: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	b, _ := os.ReadFile(got)
	if code != 7 || strings.TrimSpace(string(b)) != "TERM" {
		t.Errorf("exit %d (%v), the command got %q; want 7 and TERM; stderr:\n%s", code, err, b, errOut.String())
	}
}

// TestRunHoldsOffDrains: a drain of the node waits for a job gated by
// `hacheck run --role up|primary` (and is refused when the job outlasts
// half its timeout); no such job starts while a drain holds the job lock.
func TestRunHoldsOffDrains(t *testing.T) {
	bin := buildHacheck(t)
	n := newNode(t, "")
	n.hacheck("undrain")
	started := filepath.Join(n.dir, "started")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job := exec.CommandContext(ctx, bin, "--config", n.config, "run", "--role", "up", "--", "sh", "-c", "touch "+started+"; sleep 2")
	var jobErr bytes.Buffer
	job.Stderr = &jobErr
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the job never started: %s", jobErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, errOut := n.hacheck("drain", "--timeout", "400ms")
	if code != ExitFail || !strings.Contains(errOut, "a job started by `hacheck run` is still running on this node") {
		t.Errorf("drain while the job runs: exit %d\n%s%s; want refused", code, out, errOut)
	}
	if st, err := (state.Store{Dir: n.stateDir()}).Load(); err != nil || !st.IsUp() {
		t.Errorf("after the refused drain: %+v %v; want still up", st, err)
	}
	code, out, errOut = n.hacheck("drain", "--timeout", "30s", "--reason", "after the job")
	if code != ExitOK || !strings.Contains(out, "waiting up to") {
		t.Errorf("drain that waits: exit %d\n%s%s; want drained after waiting", code, out, errOut)
	}
	if err := job.Wait(); err != nil {
		t.Errorf("the job: %v (a drain that waited must not change its role under it)\n%s", err, jobErr.String())
	}

	// A drain holds the lock: a job does not start.
	n.hacheck("undrain")
	release, err := (state.Store{Dir: n.stateDir()}).QuiesceJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = n.hacheckRun("--role", "up", "--", "touch", filepath.Join(n.dir, "ran"))
	release()
	if _, err := os.Stat(filepath.Join(n.dir, "ran")); code != ExitOK || err == nil || !strings.Contains(errOut, "skipped: not up: a drain of this node is in progress") {
		t.Errorf("during a drain: exit %d, ran %v, %q; want skipped", code, err == nil, errOut)
	}
	// A replica job does not hold drains off (a drain does not end it).
	release, _ = (state.Store{Dir: n.stateDir()}).QuiesceJobs(ctx)
	code, _, errOut = n.hacheckRun("--role", "replica", "--", "true")
	release()
	if code != ExitOK || strings.Contains(errOut, "drain of this node") {
		t.Errorf("replica job during a drain: exit %d %q; want judged on its role alone", code, errOut)
	}
}
