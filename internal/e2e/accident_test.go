package e2e

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestAccidentReplayed runs `hacheck-lab accident`: a job that copies the
// primary's database to the standby (deleting there what the primary
// lacks, outside the binary log) starts every second on both nodes through
// `hacheck run --role primary`, while the primary moves a->b and back under
// the writer. hacheck-lab fails, and so does this test, when the job ran on
// a node whose server was read-only or that did not hold the VIP (as the
// job itself saw them), deleted any row, never ran on one of the primaries,
// or when an acknowledged write was lost.
func TestAccidentReplayed(t *testing.T) {
	bin, labBin := labBinaries(t, "the accident replay")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	moves := "2"
	if os.Getenv("HACHECK_FULL") != "" {
		moves = "8"
	}
	cmd := exec.CommandContext(ctx, labBin, "accident", "--moves", moves, "--hacheck", bin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hacheck-lab accident --moves %s:\n%s", moves, out)
	if err != nil {
		t.Fatalf("accident replay failed: %v", err)
	}
}
