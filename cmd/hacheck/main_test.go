package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hacheck/hacheck/internal/state"
)

// testNode is a throwaway hacheck configuration with its own state directory.
type testNode struct {
	t      *testing.T
	dir    string
	config string
}

func newNode(t *testing.T, extra string) *testNode {
	t.Helper()
	dir := t.TempDir()
	n := &testNode{t: t, dir: dir, config: filepath.Join(dir, "hacheck.yaml")}
	body := fmt.Sprintf("node: test\nstate_dir: %s\nlisten: 127.0.0.1:0\n%s", filepath.Join(dir, "state"), extra)
	if err := os.WriteFile(n.config, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

// hacheck runs the command in-process exactly as main does.
func (n *testNode) hacheck(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), append(args, "--config", n.config), &out, &errOut)
	return code, out.String(), errOut.String()
}

func (n *testNode) stateDir() string { return filepath.Join(n.dir, "state") }

func TestCheckExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		extra  string
		setup  func(n *testNode)
		code   int
		stdout string
	}{
		{"missing state", "", nil, ExitFail, "never marked up"},
		{"up, no checks", "", func(n *testNode) { n.hacheck("undrain") }, ExitOK, "OK: up"},
		{"up, passing check", "checks: [{name: t, type: exec, command: [/bin/true]}]\n", func(n *testNode) { n.hacheck("undrain") }, ExitOK, "1 check passed"},
		{"up, failing check", "checks: [{name: f, type: exec, command: [/bin/false]}]\n", func(n *testNode) { n.hacheck("undrain") }, ExitFail, "check f failed"},
		{"up, hanging check", "check_timeout: 300ms\nchecks: [{name: h, type: exec, command: [/bin/sleep, '10'], timeout: 200ms}]\n", func(n *testNode) { n.hacheck("undrain") }, ExitFail, "check h failed"},
		{"drained", "", func(n *testNode) { n.hacheck("undrain"); n.hacheck("drain", "--reason", "maint") }, ExitFail, "maint"},
		{"corrupt state", "", func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte("{"), 0o644)
		}, ExitFail, "corrupt"},
		{"unknown version", "", func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte(`{"version":9,"state":"up"}`), 0o644)
		}, ExitFail, "unknown version"},
		{"bad config", "check_timeout: soon\n", nil, ExitUsage, "configuration error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t, c.extra)
			if c.setup != nil {
				c.setup(n)
			}
			code, out, errOut := n.hacheck("check")
			if code != c.code || !strings.Contains(out, c.stdout) {
				t.Fatalf("check: exit %d stdout %q stderr %q; want exit %d, stdout containing %q", code, out, errOut, c.code, c.stdout)
			}
			if lines := strings.Count(out, "\n"); lines != 1 {
				t.Fatalf("check printed %d lines on stdout, want exactly one: %q", lines, out)
			}
		})
	}
}

func TestCheckInterruptedNeverSucceeds(t *testing.T) {
	n := newNode(t, "")
	n.hacheck("undrain")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if SIGTERM arrived
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"check", "--config", n.config}, &out, &errOut); code != ExitFail {
		t.Fatalf("interrupted check exited %d (%s), want %d", code, out.String(), ExitFail)
	}
}

func TestUsageErrors(t *testing.T) {
	n := newNode(t, "")
	cases := [][]string{
		{"frobnicate"},
		{"check", "--bogus"},
		{"check", "extra-arg"},
		{"drain", "--timeout", "-1s"},
		{"drain", "--timeout", "soon"},
	}
	for _, args := range cases {
		code, _, errOut := n.hacheck(args...)
		if code != ExitUsage || !strings.Contains(errOut, "hacheck:") {
			t.Errorf("%v: exit %d stderr %q, want %d with a message", args, code, errOut, ExitUsage)
		}
	}
}

func TestConfigErrorsExit2(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"status", "--config", "/nonexistent/hacheck.yaml"}, &out, &errOut)
	if code != ExitUsage || !strings.Contains(errOut.String(), "/nonexistent/hacheck.yaml") {
		t.Fatalf("unknown file: exit %d, %q", code, errOut.String())
	}
	for _, body := range []string{"check_timeout: 5parsecs\n", "vip: {address: 192.0.2.1/99, interface: eth0}\n"} {
		n := newNode(t, body)
		for _, verb := range []string{"check", "serve", "drain", "undrain", "status"} {
			code, _, errOut := n.hacheck(verb)
			if code != ExitUsage || !strings.Contains(errOut, "invalid configuration") {
				t.Errorf("%s with %q: exit %d, %q", verb, body, code, errOut)
			}
		}
	}
}

func TestDrainUndrainCycle(t *testing.T) {
	n := newNode(t, "")
	if code, out, _ := n.hacheck("undrain", "--reason", "ready"); code != ExitOK || !strings.Contains(out, "generation 1") {
		t.Fatalf("undrain: %d %q", code, out)
	}
	if code, out, _ := n.hacheck("undrain"); code != ExitOK || !strings.Contains(out, "already up") {
		t.Fatalf("second undrain: %d %q", code, out)
	}
	if code, out, _ := n.hacheck("drain", "--reason", "move to b"); code != ExitOK || !strings.Contains(out, "drained (generation 2)") {
		t.Fatalf("drain: %d %q", code, out)
	}
	if code, out, _ := n.hacheck("drain"); code != ExitOK || !strings.Contains(out, "already drained") {
		t.Fatalf("second drain: %d %q", code, out)
	}
	s, err := state.Store{Dir: n.stateDir()}.Load()
	if err != nil || s.State != state.Drained || s.Reason != "move to b" || s.Generation != 2 || s.Via != "cli" {
		t.Fatalf("state after drain: %+v %v", s, err)
	}
	track, _ := os.ReadFile(filepath.Join(n.stateDir(), "keepalived.track"))
	if string(track) != "1\n" {
		t.Fatalf("track file %q", track)
	}
}

func writeScript(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestDrainPreconditions(t *testing.T) {
	pre := t.TempDir()
	n := newNode(t, "precondition_timeout: 500ms\npreconditions_dir: "+pre+"\n")
	n.hacheck("undrain")
	marker := filepath.Join(pre, "ran")
	writeScript(t, pre, "10-ok", "echo peer ready; touch "+marker)
	writeScript(t, pre, "20-fail", "echo replica lagging >&2; exit 1")
	writeScript(t, pre, "30-hang", "sleep 10")

	code, out, errOut := n.hacheck("drain")
	if code != ExitFail {
		t.Fatalf("drain with failing preconditions exited %d", code)
	}
	for _, want := range []string{"20-fail: replica lagging", "30-hang"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal does not list %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "10-ok: peer ready") {
		t.Errorf("precondition output not shown:\n%s", out)
	}
	if s, _ := (state.Store{Dir: n.stateDir()}).Load(); s.State != state.Up || s.Generation != 1 {
		t.Fatalf("refused drain changed the state: %+v", s)
	}

	// --dry-run runs them and changes nothing, even when they pass.
	os.Remove(filepath.Join(pre, "20-fail"))
	os.Remove(filepath.Join(pre, "30-hang"))
	os.Remove(marker)
	if code, out, _ := n.hacheck("drain", "--dry-run"); code != ExitOK || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %d %q", code, out)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("dry run did not run the preconditions")
	}
	if s, _ := (state.Store{Dir: n.stateDir()}).Load(); s.State != state.Up || s.Generation != 1 {
		t.Fatalf("dry run changed the state: %+v", s)
	}

	// --force skips failing preconditions and records that it did.
	writeScript(t, pre, "20-fail", "exit 1")
	if code, _, errOut := n.hacheck("drain", "--force", "--reason", "emergency"); code != ExitOK {
		t.Fatalf("forced drain: %d %s", code, errOut)
	}
	if s, _ := (state.Store{Dir: n.stateDir()}).Load(); s.State != state.Drained || !s.Forced {
		t.Fatalf("forced drain not recorded: %+v", s)
	}
}

// Concurrent CLI drains and undrains serialize: the generation equals the
// number of changes that were reported.
func TestConcurrentDrains(t *testing.T) {
	n := newNode(t, "")
	n.hacheck("undrain")
	var wg sync.WaitGroup
	var mu sync.Mutex
	changes := 1 // the undrain above
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verb := "drain"
			if i%2 == 1 {
				verb = "undrain"
			}
			code, out, errOut := n.hacheck(verb)
			if code != ExitOK {
				t.Errorf("%s: %d %s", verb, code, errOut)
			}
			if !strings.Contains(out, "already") {
				mu.Lock()
				changes++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s, err := state.Store{Dir: n.stateDir()}.Load()
	if err != nil || s.Generation != uint64(changes) {
		t.Fatalf("generation %d after %d reported changes (%v)", s.Generation, changes, err)
	}
}

func TestStatusJSONMatchesState(t *testing.T) {
	n := newNode(t, "checks: [{name: t, type: exec, command: [/bin/true]}]\n")
	n.hacheck("undrain", "--reason", "init")
	code, out, _ := n.hacheck("status", "--json")
	if code != ExitOK {
		t.Fatalf("status exit %d", code)
	}
	var rep struct {
		Node    string
		Healthy bool
		State   struct{ State, Reason string }
		Checks  []struct {
			Name string
			OK   bool
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if rep.Node != "test" || !rep.Healthy || rep.State.State != "up" || rep.State.Reason != "init" || len(rep.Checks) != 1 || !rep.Checks[0].OK {
		t.Fatalf("unexpected status: %+v", rep)
	}
	n.hacheck("drain")
	if code, out, _ := n.hacheck("status"); code != ExitFail || !strings.Contains(out, "NOT HEALTHY") {
		t.Fatalf("drained status: %d %q", code, out)
	}
}
