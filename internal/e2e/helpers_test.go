package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
	"github.com/hacheck/hacheck/internal/mariadbd"
)

// buildDir holds the hacheck binary built once per test binary. It is under
// /run (root-owned, not world-writable) rather than /tmp, because
// keepalived's enable_script_security refuses scripts below a writable
// directory; the lab copies the binary into its own directories anyway.
var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// hacheckBinary builds cmd/hacheck once (after labtest.Require, so a test
// that is skipped builds nothing) and returns its path.
func hacheckBinary(t *testing.T) string {
	t.Helper()
	labtest.Require(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("/run", "hacheck-e2e-bin-")
		if buildErr != nil {
			return
		}
		if buildErr = os.Chmod(buildDir, 0o755); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "hacheck")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", buildBin, "github.com/hacheck/hacheck/cmd/hacheck").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build cmd/hacheck: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build hacheck: %v", buildErr)
	}
	return buildBin
}

// hacheck runs the node's hacheck binary with args and --config in the
// node's namespace, bounded by 30 s, and returns its combined output.
func hacheck(ctx context.Context, l *lab.Lab, n *lab.Node, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, n, n.Hacheck, append(args, "--config", n.HacheckConfig)...)
	return strings.TrimSpace(string(out)), err
}

func mustHacheck(t *testing.T, ctx context.Context, l *lab.Lab, n *lab.Node, args ...string) string {
	t.Helper()
	out, err := hacheck(ctx, l, n, args...)
	if err != nil {
		t.Fatalf("hacheck %s on %s: %v", strings.Join(args, " "), n.Name, err)
	}
	return out
}

// startPair starts hacheck serve on both nodes, then keepalived on A, waits
// until A holds the VIP, then keepalived on B, and waits until B settled as
// BACKUP and heard A's adverts for a while.
func startPair(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	for _, n := range l.Pair() {
		if _, err := l.Start(n, "serve", n.Hacheck, "serve", "--config", n.HacheckConfig); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := l.StartPair(ctx, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Logf("keepalived pair up, a holds the VIP, after %v (1.5 s of it settling)", ms(time.Since(start)))
}

// statusVia asks GET http://VIP:8530/status from the client namespace until
// the answering node is want (or ctx ends) and returns the node that last
// answered.
func statusVia(ctx context.Context, l *lab.Lab, want string) (string, error) {
	c := l.HTTPClient(l.Client, time.Second)
	url := "http://" + lab.VIP.Addr().String() + ":8530/status"
	var last string
	var lastErr error
	for {
		node, err := getNode(ctx, c, url)
		if err == nil && node == want {
			return node, nil
		}
		if err == nil {
			last, lastErr = node, nil
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("get %s from the client: want node %s: %w", url, want, lastErr)
			}
			return last, fmt.Errorf("get %s from the client: node %s answers, want %s", url, last, want)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func getNode(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var rep struct {
		Node string `json:"node"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return "", fmt.Errorf("decode /status (HTTP %d): %w", resp.StatusCode, err)
	}
	return rep.Node, nil
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func names(nodes []*lab.Node) []string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return s
}

// labBinaries returns the hacheck and hacheck-lab binaries (and builds the
// lean front next to them) for a test that runs a hacheck-lab scenario
// with MariaDB (what is the test's name for the
// messages). Like hacheckBinary, a missing prerequisite fails the test
// when CI is set and skips it otherwise.
func labBinaries(t *testing.T, what string) (bin, labBin string) {
	t.Helper()
	bin = hacheckBinary(t) // root, ip, keepalived
	if _, _, err := mariadbd.Binaries(mariadbd.Options{}); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s needs MariaDB: %v (CI is set, so this is a failure, not a skip)", what, err)
		}
		t.Skipf("%s needs MariaDB: %v", what, err)
	}
	labBin = filepath.Join(filepath.Dir(bin), "hacheck-lab")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// hacheck-lab installs the front next to it as each node's hacheck, the
	// full program behind it, as the package does.
	for pkg, out := range map[string]string{"cmd/hacheck-lab": labBin, "cmd/hacheck-front": filepath.Join(filepath.Dir(bin), "hacheck-front")} {
		if b, err := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/hacheck/hacheck/"+pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return bin, labBin
}
