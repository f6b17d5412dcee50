package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// fastCheckArgs is statecheck.ConfigArg (tested there) after "check".
func TestFastCheckArgs(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		config string
		ok     bool
	}{
		{[]string{"check"}, "", true},
		{[]string{"check", "--config", "/etc/h.yaml"}, "/etc/h.yaml", true},
		{[]string{"check", "--help"}, "", false},
		{[]string{"--config", "f", "check"}, "", false},
		{[]string{"status"}, "", false},
		{nil, "", false},
	} {
		if config, ok := fastCheckArgs(tc.args); ok != tc.ok || config != tc.config {
			t.Errorf("%q: %q, %v; want %q, %v", tc.args, config, ok, tc.config, tc.ok)
		}
	}
}

// The fast path (keepalived's "check --config FILE") and cobra's path
// ("--config FILE check") give the same exit code, stdout and stderr.
func TestFastCheckSameAsCobra(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		setup       func(*testNode)
	}{
		{"no state file", "", func(*testNode) {}},
		{"up", "", func(n *testNode) { n.hacheck("undrain") }},
		{"drained", "", func(n *testNode) { n.hacheck("undrain"); n.hacheck("drain", "--reason", "maint") }},
		{"failing check", "checks: [{name: f, type: exec, command: [/bin/false]}]\n", func(n *testNode) { n.hacheck("undrain") }},
		{"config error", "check_timeout: 5parsecs\n", func(*testNode) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t, tc.extra)
			tc.setup(n)
			call := func(args ...string) (int, string, string) {
				var out, errOut bytes.Buffer
				code := run(context.Background(), args, &out, &errOut)
				return code, out.String(), errOut.String()
			}
			fc, fo, fe := call("check", "--config", n.config)
			cc, co, ce := call("--config", n.config, "check")
			if fc != cc || fo != co || fe != ce {
				t.Errorf("fast path: %d %q %q\ncobra:     %d %q %q", fc, fo, fe, cc, co, ce)
			}
		})
	}
}

// hacheck-check (internal/statecheck) prints the same line and exits
// with the same code as `hacheck check` for every state of a node whose
// configuration it takes.
func TestStateCheckSameAsCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(*testNode)
	}{
		{"no state file", func(*testNode) {}},
		{"up", func(n *testNode) { n.hacheck("undrain") }},
		{"drained", func(n *testNode) { n.hacheck("undrain"); n.hacheck("drain", "--reason", "maint") }},
		{"stale ex-primary", func(n *testNode) {
			n.hacheck("undrain")
			if _, err := (state.Store{Dir: n.stateDir()}).MarkStale("the VIP went away while writable"); err != nil {
				t.Fatal(err)
			}
		}},
		{"corrupt", func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte("{"), 0o644)
		}},
		{"unknown version", func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte(`{"version":9,"state":"up"}`), 0o644)
		}},
		{"unreadable", func(n *testNode) {
			os.MkdirAll(filepath.Join(n.stateDir(), "state.json"), 0o755) // a directory: read fails
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			n := &testNode{t: t, dir: dir, config: filepath.Join(dir, "hacheck.yaml")}
			body := "node: test\nstate_dir: " + n.stateDir() + "\ncheck_timeout: 1s\nchecks: []\n"
			if err := os.WriteFile(n.config, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			tc.setup(n)
			s, ok := statecheck.Read(n.config, nil)
			if !ok {
				t.Fatalf("statecheck.Read does not take %q", body)
			}
			var lean bytes.Buffer
			healthy, reason := statecheck.Verdict(s)
			leanCode := statecheck.Print(&lean, healthy, reason)
			code, out, errOut := n.hacheck("check")
			if code != leanCode || out != lean.String() || errOut != "" {
				t.Errorf("hacheck check: %d %q %q\nstatecheck:    %d %q", code, out, errOut, leanCode, lean.String())
			}
		})
	}
}
