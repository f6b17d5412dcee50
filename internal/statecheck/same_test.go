package statecheck_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// The one configuration loader is internal/config; Read may only take a
// file that loader takes too, and read the same state_dir and
// check_timeout from it, with no live checks, no database and nothing to
// warn about. (This test imports internal/config only to prove that.)
func TestReadAgreesWithTheLoader(t *testing.T) {
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, statecheck.EnvPrefix) && !strings.HasPrefix(e, "HACHECK_FULL=") {
			t.Fatalf("%s is set: the comparison needs an environment without HACHECK_ variables", e)
		}
	}
	if statecheck.DefaultFile != config.DefaultFile {
		t.Fatalf("statecheck.DefaultFile %q, config.DefaultFile %q", statecheck.DefaultFile, config.DefaultFile)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hacheck.yaml")
	taken := 0
	compare := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s, ok := statecheck.Read(file, nil)
		cfg, err := config.Load(file)
		if !ok {
			return // the full loader decides; nothing to compare
		}
		taken++
		switch {
		case err != nil:
			t.Errorf("Read took %q, the loader says: %v", body, err)
		case s.StateDir != cfg.StateDir || s.CheckTimeout != cfg.CheckTimeout || s.File != cfg.File:
			t.Errorf("%q: Read %+v, the loader state_dir %q check_timeout %s file %q", body, s, cfg.StateDir, cfg.CheckTimeout, cfg.File)
		case len(cfg.Checks) > 0 || cfg.MySQL.DSN.IsSet() || len(cfg.Warnings) > 0:
			t.Errorf("%q: Read took a file with checks %v, a database or warnings %q", body, cfg.Checks, cfg.Warnings)
		}
	}
	for _, tc := range statecheck.ReadCases {
		compare(tc.Body)
	}
	// Files made of lines Read takes, lines it does not, and lines the
	// loader rejects, in random order and number.
	lines := []string{}
	for _, tc := range statecheck.ReadCases {
		lines = append(lines, strings.Split(strings.TrimSuffix(tc.Body, "\n"), "\n")...)
	}
	lines = append(lines, "node: b", "state_dir: /var/lib/other", "check_timeout: 3s", "check_timeout: 1500ms",
		"log_level: error", "log_format: text", "checks: []", "# x", "", "listen: '127.0.0.1:8530'")
	r := rand.New(rand.NewPCG(1, 2))
	// And lines of a key Read handles with a random value over the
	// characters YAML gives a meaning to.
	const alphabet = "aZ0019/._-+@::#'\"[]{}!&*|>%?,~ \\ynms"
	word := func() string {
		b := make([]byte, r.IntN(9))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(2) == 0 {
			return "'" + string(b) + "'"
		}
		return string(b)
	}
	n := 1000
	if os.Getenv("HACHECK_FULL") != "" {
		n = 100000
	}
	for range n {
		var b strings.Builder
		for range r.IntN(6) {
			if r.IntN(3) == 0 {
				b.WriteString(statecheck.Keys[r.IntN(len(statecheck.Keys))] + ": " + word())
			} else {
				b.WriteString(lines[r.IntN(len(lines))])
			}
			b.WriteByte('\n')
		}
		compare(b.String())
	}
	if taken < n/10 {
		t.Errorf("Read took only %d of %d files: the comparison proves little", taken, n+len(statecheck.ReadCases))
	}
	t.Logf("Read took %d files, each as the loader reads it", taken)
}
