package lab_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

func readExample(t *testing.T) []byte { return readRepoFile(t, "examples/keepalived.conf") }

// readRepoFile returns the module's file rel.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	path, err := lab.RepoFile(rel)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestKeepalivedExampleContract pins the choices the design depends on, so
// an edit that drops one fails here and not in production.
func TestKeepalivedExampleContract(t *testing.T) {
	src := readExample(t)
	var conf []string // non-comment lines, blanks collapsed
	for _, line := range strings.Split(string(src), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") && !strings.HasPrefix(f[0], "!") {
			conf = append(conf, strings.Join(f, " "))
		}
	}
	body := strings.Join(conf, "\n")
	// block returns the lines of the top-level block opened by header.
	block := func(header string) string {
		var lines []string
		in := false
		for _, line := range conf {
			switch {
			case line == header+" {":
				in = true
			case in && line == "}":
				return strings.Join(lines, "\n") + "\n"
			case in:
				lines = append(lines, line)
			}
		}
		return ""
	}
	trackFile, script := block("track_file hacheck_drain"), block("vrrp_script hacheck_check")
	for _, want := range []struct{ why, in, line string }{
		{"drain flag file", trackFile, `file "${TRACK_FILE}"`},
		{"track file weight 0 (FAULT, not a priority change)", trackFile, "weight 0"},
		{"hacheck check as the script", script, `script "${HACHECK} check --config ${HACHECK_CONFIG}"`},
		{"script interval 1", script, "interval 1"},
		{"script timeout 3 (above hacheck's 2 s)", script, "timeout 3"},
		{"script fall 1", script, "fall 1"},
		{"script rise 1", script, "rise 1"},
		{"script failure means FAULT", script, "weight 0"},
	} {
		if !strings.Contains(want.in, want.line+"\n") {
			t.Errorf("examples/keepalived.conf lost: %s (want line %q in its block)", want.why, want.line)
		}
	}
	for _, want := range []struct{ why, re string }{
		{"scripts only from root-owned paths", `(?m)^enable_script_security$`},
		{"script user root", `(?m)^script_user root$`},
		{"the instance tracks the file with weight 0", `(?m)^hacheck_drain weight 0$`},
		{"the instance tracks the script", `(?s)track_script \{\nhacheck_check\n\}`},
		{"state BACKUP", `(?m)^state BACKUP$`},
		{"nopreempt", `(?m)^nopreempt$`},
		{"advert_int 1", `(?m)^advert_int 1$`},
		{"VIP from the documentation range", `(?m)^\$VIP=192\.0\.2\.\d+/24$`},
		{"priority 254 on the node the file ships for (253 on the other)", `(?m)^\$PRIORITY=254$`},
		{"per-node interface", `(?m)^interface \$\{IFACE\}$`},
		{"per-node priority", `(?m)^priority \$\{PRIORITY\}$`},
	} {
		if !regexp.MustCompile(want.re).MatchString(body) {
			t.Errorf("examples/keepalived.conf lost: %s (want %s)", want.why, want.re)
		}
	}
	if !regexp.MustCompile(`(?m)^notify "\$\{HACHECK\} notify --config \$\{HACHECK_CONFIG\}"$`).MatchString(body) {
		t.Error("examples/keepalived.conf lost the notify line (hacheck notify promotes and fences the database)")
	}
}

func TestRenderKeepalivedConf(t *testing.T) {
	const src = "$A=1\n  $B=x y\n# ${C} in a comment is fine\nk ${A} ${B} $A\n"
	tests := []struct {
		name    string
		src     string
		params  map[string]string
		want    string
		wantErr string
	}{
		{name: "no change", src: src, want: src},
		{name: "replace", src: src, params: map[string]string{"A": "2", "B": ""},
			want: "$A=2\n  $B=\n# ${C} in a comment is fine\nk ${A} ${B} $A\n"},
		{name: "unknown param", src: src, params: map[string]string{"Z": "1"}, wantErr: "parameter Z is not defined"},
		{name: "typo in use", src: "$A=1\nk ${AA}\n", wantErr: "parameter AA (line 2) is used but never defined"},
		{name: "bare use at end of line", src: "$A=1\nk $AB\n", wantErr: "parameter AB (line 2)"},
		{name: "line break in value", src: src, params: map[string]string{"A": "1\nB"}, wantErr: "line break"},
		{name: "keepalived's reserved names", src: "k ${_INSTANCE}\n", want: "k ${_INSTANCE}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lab.RenderKeepalivedConf([]byte(tt.src), tt.params)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestKeepalivedExampleValid renders the example for node A and node B with
// the substitutions the lab uses and has keepalived itself validate each.
func TestKeepalivedExampleValid(t *testing.T) {
	labtest.Require(t)
	src := readExample(t)
	// Root-owned and not world-writable, as enable_script_security demands
	// of the script path (so not under /tmp).
	base, err := os.MkdirTemp("/run", "hacheck-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	l, err := lab.Layout(base, "example")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(conf []byte, path string) ([]byte, error) {
		t.Helper()
		if err := os.WriteFile(path, conf, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, "keepalived", "-t", "-l", "-f", path).CombinedOutput()
	}
	for _, n := range l.Pair() {
		if err := os.MkdirAll(n.StateDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(n.Hacheck), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := n.InstallHacheck(healthy); err != nil {
			t.Fatal(err)
		}
		// keepalived -t does not check this; at runtime a violation
		// silently disables the script.
		if err := lab.CheckScriptSecurity(n.Hacheck); err != nil {
			t.Fatal(err)
		}
		conf, err := lab.RenderKeepalivedConf(src, n.KeepalivedParams())
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		if out, err := validate(conf, n.KeepalivedConf); err != nil {
			t.Errorf("keepalived -t rejects the example rendered for node %s: %v\n%s", n.Name, err, out)
		}
	}

	// Negative controls: the harness must notice a bad config. A missing
	// script binary and a garbled priority both fail keepalived -t.
	broken := map[string]func(p map[string]string){
		"missing hacheck binary": func(p map[string]string) { p["HACHECK"] = filepath.Join(base, "no-such-hacheck") },
		"garbled priority":       func(p map[string]string) { p["PRIORITY"] = "high" },
	}
	for name, breakIt := range broken {
		p := l.A.KeepalivedParams()
		breakIt(p)
		conf, err := lab.RenderKeepalivedConf(src, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out, err := validate(conf, filepath.Join(base, "broken.conf")); err == nil {
			t.Errorf("%s: keepalived -t accepted it:\n%s", name, out)
		}
	}
}

func TestCheckScriptSecurity(t *testing.T) {
	labtest.Require(t) // needs root to own the files
	if err := lab.CheckScriptSecurity("/bin/true"); err != nil {
		t.Errorf("/bin/true: %v", err)
	}
	dir := t.TempDir() // under a world-writable /tmp (or TMPDIR)
	bin := filepath.Join(dir, "hacheck")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := lab.CheckScriptSecurity(bin); err == nil || !strings.Contains(err.Error(), "writable by group or other") {
		t.Errorf("script in a 0777 directory: err = %v, want a writability error", err)
	}
}
