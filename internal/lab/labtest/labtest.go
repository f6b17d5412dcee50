// Package labtest adapts package lab to tests: the skip-or-fail rule for
// missing prerequisites and teardown registered with t.Cleanup.
package labtest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// Require stops the test when the lab cannot run here: not root, or no
// `ip` or `keepalived` in PATH. With the environment variable CI set that
// is a failure (CI must run these tests); otherwise the test is skipped.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"ip", "keepalived"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" in PATH")
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("lab test needs %v (CI is set, so this is a failure, not a skip)", missing)
	}
	t.Skipf("lab test needs %v; skipped (set CI=1 to make this a failure)", missing)
}

// New calls Require, removes labs orphaned by dead test processes, builds a
// lab (bounded to 30 s) and registers its teardown with t.Cleanup, so a failing test still leaves nothing behind.
// When the test failed, the cleanup first logs the end of each node's
// keepalived log.
func New(t testing.TB, cfg lab.Config) *lab.Lab {
	t.Helper()
	Require(t)
	// Labs left by an earlier test binary that was killed (go test
	// -timeout does not run cleanups).
	if reaped, err := lab.ReapOrphans(cfg.Base); err != nil {
		t.Logf("reap orphan labs: %v", err)
	} else if len(reaped) > 0 {
		t.Logf("removed labs left by dead test processes: %v", reaped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := lab.New(ctx, cfg)
	if err != nil {
		t.Fatalf("build lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range l.Keepalived() {
				t.Logf("keepalived log of %s (%s):\n%s", n.Name, n.KeepalivedLog, lab.Tail(n.KeepalivedLog, 40))
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("tear down lab %s: %v", l.ID, err)
		}
	})
	return l
}

// Context returns a context that ends after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
