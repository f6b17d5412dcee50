package statecheck

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/state"
)

func TestConfigArg(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		config string
		ok     bool
	}{
		{nil, "", true},
		{[]string{"--config", "/etc/h.yaml"}, "/etc/h.yaml", true},
		{[]string{"--config=/etc/h.yaml"}, "/etc/h.yaml", true},
		{[]string{"--config"}, "", false},
		{[]string{"--config", ""}, "", false},
		{[]string{"--config="}, "", false},
		{[]string{"--config", "--help"}, "", false},
		{[]string{"--help"}, "", false},
		{[]string{"extra"}, "", false},
		{[]string{"--config", "f", "extra"}, "", false},
		{[]string{"-c", "f"}, "", false},
	} {
		config, ok := ConfigArg(tc.args)
		if ok != tc.ok || ok && config != tc.config {
			t.Errorf("%q: %q, %v; want %q, %v", tc.args, config, ok, tc.config, tc.ok)
		}
	}
}

// ReadCases are configuration files with whether Read takes them and, if
// so, the state_dir and check_timeout it reads. cmd/hacheck's tests run
// the same files through internal/config.
var ReadCases = []struct {
	Body     string
	OK       bool
	StateDir string
	Timeout  time.Duration
}{
	{"", true, "/var/lib/hacheck", 2 * time.Second},
	{"# only a comment\n\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"node: a\nstate_dir: /s\n", true, "/s", 2 * time.Second},
	{"---\nnode: a\nstate_dir: /s\n", true, "/s", 2 * time.Second},
	{"node: a\nstate_dir: /s\nchecks: []\n", true, "/s", 2 * time.Second},
	{"node: a   # the name\nstate_dir: /s # where\ncheck_timeout: 500ms  # short\n", true, "/s", 500 * time.Millisecond},
	{"node: 'a b'\nstate_dir: \"/s/x y\"\ncheck_timeout: '1m30s'\n", true, "/s/x y", 90 * time.Second},
	{"state_dir: '/s '\n", true, "/s ", 2 * time.Second},
	{"node: a\nstate_dir:    /s\nlog_level: debug\nlog_format: json\n", true, "/s", 2 * time.Second},
	{"log_level: WARN\nlog_format: ' Text '\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"log_level: info+2\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"check_timeout: .5s\n", true, "/var/lib/hacheck", 500 * time.Millisecond},
	{"check_timeout: +2s\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"check_timeout: 1h\n", true, "/var/lib/hacheck", time.Hour},
	{"node: a.b-c_d@e\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"  # indented comment\nnode: a\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"node: \"a#b\"\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"node: '[]'\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"listen: ':8530'\nstale_after: 3\nprecondition_timeout: 1m\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"listen: \"127.0.0.1:8530\"\nstale_after: '5'\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"listen: 'localhost:0'\n", true, "/var/lib/hacheck", 2 * time.Second},
	{"listen: ':+80'\n", true, "/var/lib/hacheck", 2 * time.Second},

	// The full loader's to judge: values it rejects or reads otherwise,
	// keys Read does not handle, YAML beyond Read's.
	{"node: ''\n", false, "", 0},
	{"node: '  '\n", false, "", 0},
	{"node:\n", false, "", 0},
	{"node: ~\n", false, "", 0},
	{"node: null\n", false, "", 0},
	{"node: 12\n", false, "", 0},
	{"node: yes\n", false, "", 0},
	{"node: True\n", false, "", 0},
	{"node: .inf\n", false, "", 0},
	{"node: 2026-01-02\n", false, "", 0},
	{"node: @a\n", false, "", 0},
	{"node: a#b\n", false, "", 0},
	{"node: a b\n", false, "", 0},
	{"node: a: b\n", false, "", 0},
	{"node: &x a\n", false, "", 0},
	{"node: !!str a\n", false, "", 0},
	{"node: 'it''s'\n", false, "", 0},
	{"node: \"a\\tb\"\n", false, "", 0},
	{"node: \"a'b\"\n", false, "", 0},
	{"node: 'a\n", false, "", 0},
	{"node: |\n  a\n", false, "", 0},
	{"node: a\n  b\n", false, "", 0},
	{"node:a\n", false, "", 0},
	{"node : a\n", false, "", 0},
	{"Node: a\n", false, "", 0},
	{"node: a\nnode: b\n", false, "", 0},
	{"checks: []\nnode: a\nchecks: []\n", false, "", 0},
	{"node: a\r\n", false, "", 0},
	{"node:\ta\n", false, "", 0},
	{"node: é\n", false, "", 0},
	{"\xef\xbb\xbfnode: a\n", false, "", 0},
	{"node: a\n---\nnode: b\n", false, "", 0},
	{"node: a\n...\n", false, "", 0},
	{"%YAML 1.2\n---\nnode: a\n", false, "", 0},
	{"{node: a}\n", false, "", 0},
	{"- node\n", false, "", 0},
	{"state_dir: relative\n", false, "", 0},
	{"state_dir: ' /s'\n", false, "", 0},
	{"check_timeout: 2\n", false, "", 0},
	{"check_timeout: 0s\n", false, "", 0},
	{"check_timeout: -1s\n", false, "", 0},
	{"check_timeout: 5parsecs\n", false, "", 0},
	{"check_timeout: 2S\n", false, "", 0},
	{"check_timeout: 0x1fs\n", false, "", 0},
	{"check_timeout: 1e3s\n", false, "", 0},
	{"log_level: loud\n", false, "", 0},
	{"log_level: on\n", false, "", 0},
	{"log_format: xml\n", false, "", 0},
	{"checks:\n", false, "", 0},
	{"checks: [ ]\n", false, "", 0},
	{"node: []\n", false, "", 0},
	{"state_dir: []\n", false, "", 0},
	{"log_level: []\n", false, "", 0},
	{"checks: '[]'\n", false, "", 0},
	{"checks: [{name: t, type: tcp, address: '127.0.0.1:1'}]\n", false, "", 0},
	{"checks:\n  - name: t\n", false, "", 0},
	{"listen: :8530\n", false, "", 0},
	{"listen: ':99999'\n", false, "", 0},
	{"listen: ':-1'\n", false, "", 0},
	{"listen: '[::1]:8530'\n", false, "", 0},
	{"listen: '8530'\n", false, "", 0},
	{"listen: 'a:b'\n", false, "", 0},
	{"listen: ':'\n", false, "", 0},
	{"listen: 127.0.0.1:8530\n", false, "", 0},
	{"stale_after: 0\n", false, "", 0},
	{"stale_after: 03\n", false, "", 0},
	{"stale_after: '0'\n", false, "", 0},
	{"stale_after: ' 3'\n", false, "", 0},
	{"stale_after: 3.0\n", false, "", 0},
	{"stale_after: 0x3\n", false, "", 0},
	{"precondition_timeout: 0s\n", false, "", 0},
	{"precondition_timeout: 30\n", false, "", 0},
	{"vip:\n  address: 192.0.2.1/24\n", false, "", 0},
	{"mysql:\n  dsn: 'u:p@tcp(127.0.0.1:3306)/'\n", false, "", 0},
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for i, tc := range ReadCases {
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte(tc.Body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, ok := Read(file, nil)
		if ok != tc.OK || ok && (s.StateDir != tc.StateDir || s.CheckTimeout != tc.Timeout || s.File != file) {
			t.Errorf("case %d %q: %+v, %v; want ok %v, state_dir %q, check_timeout %s", i, tc.Body, s, ok, tc.OK, tc.StateDir, tc.Timeout)
		}
	}
}

func TestReadLeavesTheRestToTheFullLoader(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("node: a\nstate_dir: /s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Read(file, []string{"PATH=/bin", "HACHECK_STATE_DIR=/elsewhere"}); ok {
		t.Error("read a file with HACHECK_STATE_DIR in the environment")
	}
	if _, ok := Read(file, []string{"PATH=/bin", "XHACHECK_STATE_DIR=/x"}); !ok {
		t.Error("declined an environment without HACHECK_ variables")
	}
	if _, ok := Read(filepath.Join(dir, "missing.yaml"), nil); ok {
		t.Error("read a missing file")
	}
	if _, ok := Read(dir, nil); ok {
		t.Error("read a directory")
	}
}

func TestVerdict(t *testing.T) {
	dir := t.TempDir()
	s := Settings{StateDir: dir, CheckTimeout: time.Second}
	if ok, why := Verdict(s, slog.New(slog.DiscardHandler)); ok || !strings.Contains(why, "never marked up") {
		t.Errorf("no state: %v %q", ok, why)
	}
	store := state.Store{Dir: dir}
	if _, _, err := store.Set(state.Change{To: state.Up, By: "test"}); err != nil {
		t.Fatal(err)
	}
	if ok, why := Verdict(s, slog.New(slog.DiscardHandler)); !ok || why != "up" {
		t.Errorf("up: %v %q", ok, why)
	}
	if _, err := store.MarkStale("test"); err != nil {
		t.Fatal(err)
	}
	if ok, why := Verdict(s, slog.New(slog.DiscardHandler)); ok || !strings.Contains(why, "stale ex-primary") {
		t.Errorf("stale: %v %q", ok, why)
	}
}
