package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hacheck.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, "node: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/var/lib/hacheck" || cfg.Listen != ":8530" || cfg.CheckTimeout != 2*time.Second ||
		cfg.StaleAfter != 3 || cfg.Promote.Unplanned != "refuse" || cfg.VIP.Configured() ||
		cfg.MySQL.FenceGrace != 300*time.Millisecond || !cfg.MySQL.FenceKill || cfg.Drain.AnswerFor != 3*time.Second {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestFenceKillOff(t *testing.T) {
	cfg, err := Load(writeConfig(t, "node: a\nmysql: {fence_kill: false, fence_grace: 1s, fence_timeout: 5s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MySQL.FenceKill || cfg.MySQL.FenceGrace != time.Second {
		t.Fatalf("fence_kill %v fence_grace %s", cfg.MySQL.FenceKill, cfg.MySQL.FenceGrace)
	}
}

func TestAnswerForOff(t *testing.T) {
	for _, v := range []string{"0", "0s"} {
		cfg, err := Load(writeConfig(t, "node: a\ndrain: {answer_for: "+v+"}\n"))
		if err != nil || cfg.Drain.AnswerFor != 0 {
			t.Fatalf("answer_for %s: %v, %v", v, cfg.Drain.AnswerFor, err)
		}
	}
}

func TestFullFile(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
node: a
state_dir: /run/x
listen: 127.0.0.1:9000
check_timeout: 1500ms
vip: {address: 192.0.2.100/24, interface: eth0}
mysql: {dsn: "hacheck:secret@tcp(127.0.0.1:3306)/"}
checks:
  - {name: web, type: tcp, address: "127.0.0.1:80", timeout: 300ms}
  - {name: api, type: http, url: "http://127.0.0.1/health", interval: 5s}
  - {name: script, type: exec, command: [/bin/true, -x]}
  - {name: db, type: mysql, mode: replica, max_lag: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.VIP.Address.String() != "192.0.2.100/24" || cfg.CheckTimeout != 1500*time.Millisecond {
		t.Fatalf("%+v", cfg)
	}
	if len(cfg.Checks) != 4 || cfg.Checks[0].Timeout != 300*time.Millisecond || cfg.Checks[1].Interval != 5*time.Second ||
		strings.Join(cfg.Checks[2].Command, " ") != "/bin/true -x" || cfg.Checks[3].DSN.String() != cfg.MySQL.DSN.String() || cfg.Checks[3].MaxLag != 10*time.Second {
		t.Fatalf("checks: %+v", cfg.Checks)
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	t.Setenv("HACHECK_STATE_DIR", "/srv/state")
	t.Setenv("HACHECK_VIP_ADDRESS", "192.0.2.7/32")
	t.Setenv("HACHECK_VIP_INTERFACE", "br0")
	cfg, err := Load(writeConfig(t, "node: a\nstate_dir: /from/file\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/srv/state" || cfg.VIP.Address.String() != "192.0.2.7/32" {
		t.Fatalf("env did not override: %+v", cfg)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string // every one must appear in the message
	}{
		{"bad duration", "check_timeout: 5x\n", []string{"check_timeout", `"5x"`, "e.g. 500ms"}},
		{"unitless duration", "check_timeout: 5\n", []string{"check_timeout", `"5"`}},
		{"bad cidr", "vip: {address: 192.0.2.300/24, interface: eth0}\n", []string{"vip.address", "192.0.2.300/24", "e.g. 192.0.2.100/24"}},
		{"address without prefix", "vip: {address: 192.0.2.100, interface: eth0}\n", []string{"vip.address"}},
		{"vip without interface", "vip: {address: 192.0.2.100/24}\n", []string{"vip.interface"}},
		{"relative state dir", "state_dir: var/lib\n", []string{"state_dir", "absolute"}},
		{"bad listen", "listen: localhost\n", []string{"listen", "host:port"}},
		{"unknown key", "state_dri: /x\n", []string{"state_dri", "unknown setting"}},
		{"unknown check key", "checks: [{name: a, type: tcp, address: '1.2.3.4:5', adress: x}]\n", []string{"checks[0].adress"}},
		{"bad check type", "checks: [{name: a, type: ping}]\n", []string{"checks[0] (a).type", `"ping"`}},
		{"duplicate names", "checks: [{name: a, type: exec, command: /bin/true}, {name: a, type: exec, command: /bin/true}]\n", []string{"used by another check"}},
		{"relative exec", "checks: [{name: a, type: exec, command: [true]}]\n", []string{"absolute path"}},
		{"check timeout over deadline", "checks: [{name: a, type: exec, command: /bin/true, timeout: 5s}]\n", []string{"longer than check_timeout"}},
		{"mysql without dsn", "checks: [{name: db, type: mysql}]\n", []string{"mysql.dsn"}},
		{"bad dsn", "mysql: {dsn: 'nonsense'}\n", []string{"mysql.dsn", "not a valid DSN"}},
		{"bad unplanned", "promote: {unplanned: yolo}\n", []string{"promote.unplanned"}},
		{"bad peer url", "peer: {url: 192.0.2.12:8530}\n", []string{"peer.url"}},
		{"fence timeout under a second", "mysql: {fence_timeout: 1s}\n", []string{"mysql.fence_timeout", "too short", "at least 1.5s"}},
		{"grace not under the fence timeout", "mysql: {fence_grace: 2s}\n", []string{"mysql.fence_grace", "not shorter than mysql.fence_timeout (2s)"}},
		{"bad fence kill", "mysql: {fence_kill: sometimes}\n", []string{"mysql.fence_kill", `"sometimes"`}},
		{"drain shorter than its steps", "mysql: {dsn: 'u:p@tcp(127.0.0.1:3306)/'}\ndrain: {timeout: 10s, catchup_timeout: 9s}\n", []string{"drain.timeout", "drain.catchup_timeout (9s)", "= 13s"}},
		{"bad answer_for", "drain: {answer_for: soon}\n", []string{"drain.answer_for", `"soon"`, "0 to turn it off"}},
		{"answer_for too long", "drain: {answer_for: 5m}\n", []string{"drain.answer_for", "longer than a minute"}},
		{"missing preconditions dir", "preconditions_dir: /nonexistent/hacheck.d\n", []string{"preconditions_dir"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantLoadError(t, "node: a\n"+c.body, c.want) })
	}
}

// wantLoadError fails unless loading body is an error that mentions every
// one of want.
func wantLoadError(t *testing.T, body string, want []string) {
	t.Helper()
	_, err := Load(writeConfig(t, body))
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	_, err := Load(writeConfig(t, "check_timeout: x\nlisten: nope\nvip: {address: bad, interface: eth0}\n"))
	e, ok := err.(*Error)
	if !ok || len(e.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestNamedFileMustExist(t *testing.T) {
	_, err := Load("/nonexistent/hacheck.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/hacheck.yaml") || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("error %v should name the file and the flag", err)
	}
}

func TestMalformedYAML(t *testing.T) {
	_, err := Load(writeConfig(t, "node: [unclosed\n"))
	if err == nil || !strings.Contains(err.Error(), "hacheck.yaml") {
		t.Fatalf("error %v should name the file", err)
	}
}

// A DSN is parsed once, fully, and never prints its password.
func TestDSN(t *testing.T) {
	for _, tt := range []struct {
		dsn  string
		want string // in the error; "" = valid
	}{
		{"hacheck:s3cret@tcp(127.0.0.1:3306)/", ""},
		{"hacheck:s3cret@unix(/run/mysqld/mysqld.sock)/", ""},
		{"u:pw@127.0.0.1:3306/", "the address has no network: wrap it as tcp(HOST:PORT)"},
		{"u:pw@tcpx(127.0.0.1:3306)/", `network "tcpx" is not tcp or unix`},
		{"u:pw@tcp(127.0.0.1:0)/", "port"},
	} {
		var errs []string
		d := parseDSN(func(key, format string, a ...any) { errs = append(errs, key+": "+fmt.Sprintf(format, a...)) }, "mysql.dsn", tt.dsn)
		got := strings.Join(errs, "; ")
		if tt.want == "" && (got != "" || !d.IsSet()) || tt.want != "" && (!strings.Contains(got, tt.want) || d.IsSet()) {
			t.Errorf("%s: errors %q, set %v; want %q", tt.dsn, got, d.IsSet(), tt.want)
		}
		if strings.Contains(got, "s3cret") || strings.Contains(got, ":pw@") || strings.Contains(d.String(), "s3cret") {
			t.Errorf("%s: a password is shown: %q / %q", tt.dsn, got, d)
		}
	}
	d := parseDSN(func(string, string, ...any) {}, "k", "hacheck:s3cret@tcp(192.0.2.11:3307)/")
	if d.String() != "hacheck:***@tcp(192.0.2.11:3307)/" {
		t.Errorf("String = %q", d)
	}
	if h, p, err := d.HostPort(); h != "192.0.2.11" || p != 3307 || err != nil {
		t.Errorf("HostPort = %s %d %v", h, p, err)
	}
	if d.Driver().Passwd != "s3cret" {
		t.Errorf("Driver lost the password")
	}
}

// The example shipped to operators must load as it is.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../../examples/hacheck.yaml")
	if err != nil {
		t.Fatalf("examples/hacheck.yaml: %v", err)
	}
	if cfg.Node != "node-a" || !cfg.VIP.Configured() || len(cfg.Checks) == 0 {
		t.Fatalf("example lost its essentials: %+v", cfg)
	}
}

// Errors name the place to fix: the file and line, or the environment
// variable; unknown keys get the nearest known one.
func TestErrorsNameTheirSource(t *testing.T) {
	f := writeConfig(t, "node: a\nvip:\n  adress: 192.0.2.100/24\n  interface: eth0\ncheck_timeout: 5x\nchecks:\n  - name: web\n    type: tcp\n    adress: x\n")
	_, err := Load(f)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		f + ":3: vip.adress: unknown setting; did you mean vip.address?",
		f + ":5: check_timeout:",
		f + ":9: checks[0].adress: unknown setting; did you mean address?",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "known:") {
		t.Errorf("error lists every key: %q", err)
	}

	_, err = Load(writeConfig(t, "node: a\nvip: 192.0.2.100/24\n"))
	if err == nil || !strings.Contains(err.Error(), "vip is a section, not a value: write it as a mapping with address, interface") {
		t.Errorf("flat vip: %v", err)
	}

	t.Setenv("HACHECK_CHECK_TIMEOUT", "soon")
	_, err = Load(writeConfig(t, "node: a\ncheck_timeout: 2s\n"))
	if err == nil || !strings.Contains(err.Error(), "environment HACHECK_CHECK_TIMEOUT: check_timeout:") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"state_dri", "state_dir", 2}, {"vip.adress", "vip.address", 1}, {"abc", "", 3}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestYAMLErrorNamesTheLine(t *testing.T) {
	f := writeConfig(t, "node: a\nvip:\n  address: 192.0.2.1/24\n   interface: eth0\n")
	_, err := Load(f)
	if err == nil || !strings.Contains(err.Error(), f+":4: not valid YAML: mapping values are not allowed") {
		t.Errorf("bad YAML: %v", err)
	}
}
