package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/clidrain"
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

type result struct {
	code           int
	stdout, stderr string
	full           []string // the arguments handed to the full program; nil = not
}

func call(args, environ []string) result {
	var out, errOut bytes.Buffer
	var r result
	full := func(a []string) error {
		r.full = append([]string{}, a...)
		return errors.New("no full hacheck in this test")
	}
	r.code = run(args, environ, &out, &errOut, full, func(int) {})
	r.stdout, r.stderr = out.String(), errOut.String()
	return r
}

// check on a state-only node is answered here; everything else is the
// full program's, with the arguments as given.
func TestDispatch(t *testing.T) {
	config, dir := node(t, "")
	if _, _, err := (state.Store{Dir: dir}).Set(state.Change{To: state.Up}); err != nil {
		t.Fatal(err)
	}
	if r := call([]string{"check", "--config", config}, nil); r.code != exitcode.OK || r.stdout != "OK: up\n" || r.full != nil {
		t.Errorf("state-only check: %+v", r)
	}
	live, _ := node(t, "checks: [{name: f, type: exec, command: [/bin/true]}]\n")
	for _, args := range [][]string{
		{"check", "--config", live},
		{"check", "--help"},
		{"status", "--config", config},
		{"drain", "--config", config}, // no admin socket: the drain runs in the full program
		{"drain", "--config", config, "--bogus"},
		{"drain", "--config", config, "--reason", "r"},
		{},
	} {
		r := call(args, nil)
		if strings.Join(r.full, "\x00") != strings.Join(args, "\x00") || r.code != exitcode.Usage || !strings.Contains(r.stderr, "no full hacheck in this test") {
			t.Errorf("%q: %+v", args, r)
		}
		if want := len(args) > 0 && args[0] == "check"; want != strings.Contains(r.stdout, "FAIL: configuration error") {
			t.Errorf("%q: stdout %q", args, r.stdout)
		}
	}
}

func TestDrainRequest(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		ok     bool
		config string
		req    clidrain.Request
	}{
		{nil, true, "", clidrain.Request{}},
		{[]string{"--config", "/h.yaml", "--follow", "--reason", "kernel update"}, true, "/h.yaml", clidrain.Request{Follow: true, Reason: "kernel update"}},
		{[]string{"--config=/h.yaml", "--to=c", "--dry-run", "--force=false", "--keep-fenced", "--timeout", "10s"}, true, "/h.yaml",
			clidrain.Request{To: "c", DryRun: true, KeepFenced: true, Timeout: "10s"}},
		{[]string{"--reason"}, false, "", clidrain.Request{}},
		{[]string{"--timeout", "0s"}, false, "", clidrain.Request{}},
		{[]string{"--timeout="}, false, "", clidrain.Request{}},
		{[]string{"--timeout", ""}, false, "", clidrain.Request{}},
		{[]string{"--reason="}, true, "", clidrain.Request{}},
		{[]string{"--reason", "--force"}, true, "", clidrain.Request{Reason: "--force"}},
		{[]string{"--timeout", "soon"}, false, "", clidrain.Request{}},
		{[]string{"--follow=maybe"}, false, "", clidrain.Request{}},
		{[]string{"--help"}, false, "", clidrain.Request{}},
		{[]string{"-h"}, false, "", clidrain.Request{}},
		{[]string{"now"}, false, "", clidrain.Request{}},
		{[]string{"--reason", "a", "--reason", "b"}, false, "", clidrain.Request{}},
	} {
		req, config, ok := drainRequest(tc.args)
		if ok != tc.ok || (ok && (config != tc.config || req != tc.req)) {
			t.Errorf("%q: %+v %q %v; want %+v %q %v", tc.args, req, config, ok, tc.req, tc.config, tc.ok)
		}
	}
}

func TestAdminSocket(t *testing.T) {
	for _, tc := range []struct {
		yaml, socket string
	}{
		{"admin:\n  enabled: true\n  socket: /run/hacheck/admin.sock\n", "/run/hacheck/admin.sock"},
		{"node: a\nadmin:\n  # the CLI's drain runs in serve\n  enabled: true   # on\n\n  socket: \"/run/h.sock\"\nvip:\n  address: 192.0.2.100/24\n", "/run/h.sock"},
		{"admin: {enabled: true, socket: /run/h.sock}\n", "/run/h.sock"},
		{"admin: {enabled: True, socket: '/run/h.sock'}  # flow\n", "/run/h.sock"},
		{"admin:\n  enabled: false\n  socket: /run/h.sock\n", ""},
		{"admin:\n  enabled: true\n  token_file: /etc/hacheck/token\n", ""},
		{"admin:\n  enabled: true\n  socket: run/h.sock\n", ""},
		{"admin:\n  enabled: true\n  socket: *anchor\n", ""},
		{"admin:\n  enabled: true\n  socket: /a.sock\nadmin:\n  socket: /b.sock\n", ""},
		{"admin:\n  enabled: true\n  enabled: false\n  socket: /a.sock\n", ""},
		{"node: a\n", ""},
	} {
		f := filepath.Join(t.TempDir(), "h.yaml")
		os.WriteFile(f, []byte(tc.yaml), 0o644)
		socket, ok := adminSocket(f)
		if socket != tc.socket || ok != (tc.socket != "") {
			t.Errorf("%q: %q %v, want %q", tc.yaml, socket, ok, tc.socket)
		}
	}
	if _, ok := adminSocket(filepath.Join(t.TempDir(), "missing.yaml")); ok {
		t.Error("a missing file gave a socket")
	}
}
