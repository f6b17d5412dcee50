package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
// configuration it takes, and leaves the same state behind (an ended hold
// cleared, the track file rewritten).
func TestStateCheckSameAsCheck(t *testing.T) {
	hold := func(until time.Duration) func(*testNode) {
		return func(n *testNode) {
			n.hacheck("undrain")
			now := time.Now()
			if _, err := (state.Store{Dir: n.stateDir()}).SetHold(state.Hold{For: "b", By: "c", Since: now, Until: now.Add(until)}); err != nil {
				t.Fatal(err)
			}
		}
	}
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
		{"held", hold(time.Hour)},
		{"hold ended", hold(-time.Second)},
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
			node := func() *testNode {
				dir := t.TempDir()
				n := &testNode{t: t, dir: dir, config: filepath.Join(dir, "hacheck.yaml")}
				body := "node: test\nstate_dir: " + n.stateDir() + "\ncheck_timeout: 1s\nchecks: []\nlisten: '127.0.0.1:0'\n"
				if err := os.WriteFile(n.config, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				tc.setup(n)
				return n
			}
			// Each on its own node: the first may change the state.
			leanNode, fullNode := node(), node()
			s, ok := statecheck.Read(leanNode.config, nil)
			if !ok {
				t.Fatalf("statecheck.Read does not take %s", leanNode.config)
			}
			var lean, leanErr bytes.Buffer
			healthy, reason := statecheck.Verdict(s, statecheck.Logger(&leanErr, s.LogLevel, s.LogFormat))
			leanCode := statecheck.Print(&lean, healthy, reason)
			code, out, errOut := fullNode.hacheck("check")
			// The same words but for the node's directory.
			out, errOut = strings.ReplaceAll(out, fullNode.dir, leanNode.dir), strings.ReplaceAll(errOut, fullNode.dir, leanNode.dir)
			if code != leanCode || out != lean.String() || errOut != leanErr.String() {
				t.Errorf("hacheck check: %d %q %q\nstatecheck:    %d %q %q", code, out, errOut, leanCode, lean.String(), leanErr.String())
			}
			after := func(n *testNode) string {
				st, err := (state.Store{Dir: n.stateDir()}).Load()
				track, _ := os.ReadFile(filepath.Join(n.stateDir(), state.TrackName))
				return fmt.Sprintf("%s hold %v generation %d err %v track %q", st.State, st.Hold != nil, st.Generation, err != nil, track)
			}
			if l, f := after(leanNode), after(fullNode); l != f {
				t.Errorf("after hacheck check: %s\nafter statecheck:    %s", f, l)
			}
		})
	}
}
