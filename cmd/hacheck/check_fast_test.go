package main

import (
	"bytes"
	"context"
	"testing"
)

func TestFastCheckArgs(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		config string
		ok     bool
	}{
		{[]string{"check"}, "", true},
		{[]string{"check", "--config", "/etc/h.yaml"}, "/etc/h.yaml", true},
		{[]string{"check", "--config=/etc/h.yaml"}, "/etc/h.yaml", true},
		{[]string{"check", "--config"}, "", false},
		{[]string{"check", "--config", ""}, "", false},
		{[]string{"check", "--config", "--help"}, "", false},
		{[]string{"check", "--help"}, "", false},
		{[]string{"check", "extra"}, "", false},
		{[]string{"check", "--config", "f", "extra"}, "", false},
		{[]string{"--config", "f", "check"}, "", false},
		{[]string{"status"}, "", false},
		{nil, "", false},
	} {
		config, ok := fastCheckArgs(tc.args)
		if ok != tc.ok || ok && config != tc.config {
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
