package e2e

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestFaults runs each unplanned-failure scenario of `hacheck-lab faults`
// (keepalived stopped on the primary, with and without nopreempt; node A
// killed hard; A partitioned by its link and by the bridge; mysqld on A
// frozen) on its own lab, with the real hacheck, keepalived and MariaDB
// and a writer through the VIP. hacheck-lab exits 1, and the subtest
// fails, on any violated invariant: an acknowledged write missing on the
// final primary, both servers writable, a writable server without the VIP
// (1 s grace), writes not resumed 15 s after the fault ends (unless the VIP
// holder's status names the safe command, where a person is needed), and
// each scenario's own assertions. One run of each (about 40 s each);
// HACHECK_FAULT_RUNS=N runs each N times.
func TestFaults(t *testing.T) {
	bin, labBin := labBinaries(t, "fault scenarios")
	runs := 1
	if v := os.Getenv("HACHECK_FAULT_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("HACHECK_FAULT_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	for _, sc := range []string{
		"keepalived-restart",
		"keepalived-restart-preempt",
		"node-killed",
		"partition-link",
		"partition-bridge",
		"mysqld-frozen",
	} {
		t.Run(sc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(runs)*3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, labBin, "faults", "--scenarios", sc, "--runs", strconv.Itoa(runs), "--hacheck", bin)
			cmd.WaitDelay = 10 * time.Second
			out, err := cmd.CombinedOutput()
			t.Logf("hacheck-lab faults --scenarios %s --runs %d:\n%s", sc, runs, out)
			if err != nil {
				t.Fatalf("scenario %s: %v (the violations are listed above)", sc, err)
			}
		})
	}
}
