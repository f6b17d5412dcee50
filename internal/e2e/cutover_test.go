package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/mariadbd"
)

// TestCutoverUnderWriter runs a short version of the cutover benchmark
// (two cutovers each way under the insert writer and the 8-thread
// transactional workload on hot rows, through the VIP) with the real
// hacheck and hacheck-lab binaries. hacheck-lab fails, and so does this
// test, on any lost acknowledged write, the VIP on both nodes at once, or
// a writable node without the VIP.
func TestCutoverUnderWriter(t *testing.T) {
	bin := hacheckBinary(t) // root, ip, keepalived (CI: fail, else skip)
	if _, _, err := mariadbd.Binaries(mariadbd.Options{}); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cutover test needs MariaDB: %v (CI is set, so this is a failure, not a skip)", err)
		}
		t.Skipf("cutover test needs MariaDB: %v", err)
	}
	labBin := filepath.Join(filepath.Dir(bin), "hacheck-lab")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", labBin, "github.com/hacheck/hacheck/cmd/hacheck-lab").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/hacheck-lab: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, labBin, "bench-cutover", "--runs", "4", "--modes", "hacheck", "--txn-threads", "8", "--hacheck", bin)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("hacheck-lab bench-cutover --runs 4 --modes hacheck:\n%s", out)
	if err != nil {
		t.Fatalf("cutover run failed: %v", err)
	}
}
