package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// TestCutoverUnderWriter runs a short version of the cutover benchmark
// (two cutovers each way under the insert writer and the 8-thread
// transactional workload on hot rows, through the VIP) with the real
// hacheck and hacheck-lab binaries. hacheck-lab fails, and so does this
// test, on any lost acknowledged write, the VIP on both nodes at once, or
// a writable node without the VIP.
func TestCutoverUnderWriter(t *testing.T) {
	bin, labBin := labBinaries(t, "cutover test")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, "bench-cutover", "--runs", "4", "--modes", "hacheck", "--workloads", "txn", "--txn-threads", "8", "--hacheck", bin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hacheck-lab bench-cutover --runs 4 --modes hacheck:\n%s", out)
	if err != nil {
		t.Fatalf("cutover run failed: %v", err)
	}
}
