// Package galeratest starts a real MariaDB Galera cluster for tests: three
// (or Options.Size) mariadbd with the galera-4 provider, each in its own
// network namespace on one bridge (lab.Net), joined by rsync SST.
//
// Only _test files import it: nothing here belongs in a binary.
//
// Layout of a cluster:
//
//	namespaces  hacheck-ID-br (bridge), hacheck-ID-g1 .. hacheck-ID-gN
//	addresses   g1 192.0.2.21/24, g2 192.0.2.22/24, ... (eth0 of each namespace)
//	mariadbd    port 3306 on the node's address, its own directory under
//	            os.TempDir() (mariadbtest), owned by and run as user mysql:
//	            the joiner's rsync daemon runs as the server's user and must
//	            write the datadir
//	galera      wsrep_cluster_address gcomm:// every node, g1 bootstrapped
//	            with --wsrep-new-cluster on its first start only; short EVS
//	            timeouts so a node cut off goes non-Primary within seconds
//
// Start registers the teardown with t.Cleanup (every server stopped, the
// namespaces deleted), so a failing test leaves nothing behind. A cluster
// left by a test binary killed on timeout is reaped by the next Start
// (lab.ReapOrphans).
package galeratest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
	"github.com/hacheck/hacheck/internal/mariadbtest"
)

// Provider is the galera-4 library Debian installs.
const Provider = "/usr/lib/galera/libgalera_smm.so"

// Port is where every node's mariadbd listens, on its own address.
const Port = 3306

// Options describe a cluster. The zero value is three nodes.
type Options struct {
	Size int // default 3
	// ExtraConfig lines are appended to every node's [mysqld] section.
	ExtraConfig []string
}

// Cluster is a running Galera cluster.
type Cluster struct {
	Name  string // wsrep_cluster_name
	Net   *lab.Net
	Nodes []*Node
}

// Node is one member: a mariadbtest.Server in its own namespace.
type Node struct {
	*mariadbtest.Server
	Name string // g1, g2, ...
	Host *lab.Host
	net  *lab.Net
}

// IP returns the node's address, without port.
func (n *Node) IP() string { return n.Host.Addr.Addr().String() }

// Require stops the test when a Galera cluster cannot run here: not root,
// no `ip`, mariadbd, rsync, the galera-4 provider or the mysql account.
// With CI set that is a failure; otherwise the test is skipped.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"ip", "rsync"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" in PATH")
		}
	}
	if _, _, err := mariadbd.Binaries(mariadbd.Options{}); err != nil {
		missing = append(missing, "mariadbd (apt-get install mariadb-server)")
	}
	if _, err := os.Stat(Provider); err != nil {
		missing = append(missing, Provider+" (apt-get install galera-4)")
	}
	if _, err := user.Lookup("mysql"); err != nil {
		missing = append(missing, "user mysql")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("galera test needs %v (CI is set, so this is a failure, not a skip)", missing)
	}
	t.Skipf("galera test needs %v; skipped (set CI=1 to make this a failure)", missing)
}

// Start builds the network, bootstraps g1, joins the others one at a time
// and waits until every node is Synced in a Primary component of Size
// nodes. Everything is torn down in t.Cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Require(t)
	if opts.Size <= 0 {
		opts.Size = 3
	}
	if reaped, err := lab.ReapOrphans(""); err != nil {
		t.Logf("reap orphan labs: %v", err)
	} else if len(reaped) > 0 {
		t.Logf("removed labs left by dead test processes: %v", reaped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	specs := make([]lab.HostSpec, opts.Size)
	for i := range specs {
		specs[i] = lab.HostSpec{Name: fmt.Sprintf("g%d", i+1), Addr: netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", 21+i))}
	}
	net, err := lab.NewNet(ctx, "", specs)
	if err != nil {
		t.Fatalf("galera cluster: %v", err)
	}
	c := &Cluster{Name: "galeratest-" + net.ID, Net: net}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range c.Nodes {
				t.Logf("error log of %s:\n%s", n.Name, n.ErrorLogTail(25))
			}
		}
		if err := c.stopAll(); err != nil {
			t.Errorf("stop galera cluster: %v", err)
		}
		if err := net.Close(); err != nil {
			t.Errorf("tear down galera network: %v", err)
		}
	})
	var peers []string
	for _, h := range net.Hosts {
		peers = append(peers, h.Addr.Addr().String())
	}
	for i, h := range net.Hosts {
		mo := mariadbd.Options{
			BindAddress:   h.Addr.Addr().String(),
			Port:          Port,
			ServerID:      uint32(i + 1),
			CommandPrefix: []string{"ip", "netns", "exec", h.NS},
			User:          "mysql",
			StartTimeout:  2 * time.Minute,
			ExtraConfig: append([]string{
				"wsrep_on=ON",
				"wsrep_provider=" + Provider,
				"wsrep_cluster_name=" + c.Name,
				"wsrep_cluster_address=gcomm://" + strings.Join(peers, ","),
				"wsrep_node_address=" + h.Addr.Addr().String(),
				"wsrep_node_name=" + h.Name,
				"wsrep_sst_method=rsync",
				// Seconds rather than the defaults' tens of seconds: a node
				// cut off leaves the Primary component within a few seconds.
				`wsrep_provider_options="gcache.size=32M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S"`,
				"innodb_autoinc_lock_mode=2",
			}, opts.ExtraConfig...),
		}
		if i == 0 {
			mo.FirstStartArgs = []string{"--wsrep-new-cluster"}
		}
		s, err := mariadbd.StartProcess(mo)
		if err != nil {
			t.Fatalf("galera node %s: %v", h.Name, err)
		}
		n := &Node{Server: &mariadbtest.Server{Server: s}, Name: h.Name, Host: h, net: net}
		c.Nodes = append(c.Nodes, n)
		if err := n.WaitStatus(ctx2(t, time.Minute), "wsrep_local_state_comment", "Synced"); err != nil {
			t.Fatalf("galera node %s: %v", h.Name, err)
		}
	}
	if err := c.WaitSynced(ctx2(t, time.Minute), opts.Size); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx2(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Context returns a context that ends after d or when the test ends.
func Context(t testing.TB, d time.Duration) context.Context { return ctx2(t, d) }

// stopAll stops every server at once (each SIGTERM, SIGKILL after 10 s)
// and removes their directories.
func (c *Cluster) stopAll() error {
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Go(func() { errs[i] = n.Server.Stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WaitSynced waits until every running node reports Synced, Primary and a
// cluster of size nodes.
func (c *Cluster) WaitSynced(ctx context.Context, size int) error {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		for _, w := range [][2]string{
			{"wsrep_local_state_comment", "Synced"},
			{"wsrep_cluster_status", "Primary"},
			{"wsrep_cluster_size", fmt.Sprint(size)},
		} {
			if err := n.WaitStatus(ctx, w[0], w[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Status returns one global status variable (SHOW GLOBAL STATUS, which a
// node answers in any state), as root over the socket.
func (n *Node) Status(ctx context.Context, name string) (string, error) {
	db := n.DB()
	if db == nil {
		return "", fmt.Errorf("status %s on %s: server not running", name, n.Name)
	}
	var k, v string
	if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE ?", name).Scan(&k, &v); err != nil {
		return "", fmt.Errorf("status %s on %s: %w", name, n.Name, err)
	}
	return v, nil
}

// WaitStatus polls Status every 50 ms until it reads want.
func (n *Node) WaitStatus(ctx context.Context, name, want string) error {
	var last string
	var lastErr error
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last, lastErr = n.Status(qctx, name)
		cancel()
		if lastErr == nil && last == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s = %q (err %v), want %q: %w", n.Name, name, last, lastErr, want, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Isolate cuts the node off from every other node (its bridge port down);
// Reconnect undoes it.
func (n *Node) Isolate(ctx context.Context) error   { return n.net.SetLink(ctx, n.Host, false) }
func (n *Node) Reconnect(ctx context.Context) error { return n.net.SetLink(ctx, n.Host, true) }

// WipeDataDir empties the datadir of a stopped node, keeping the directory
// (owned by mysql): the next Restart joins by a full SST.
func (n *Node) WipeDataDir() error {
	if n.Running() {
		return fmt.Errorf("wipe datadir of %s: still running", n.Name)
	}
	entries, err := os.ReadDir(n.DataDir)
	if err != nil {
		return fmt.Errorf("wipe datadir of %s: %w", n.Name, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(n.DataDir, e.Name())); err != nil {
			return fmt.Errorf("wipe datadir of %s: %w", n.Name, err)
		}
	}
	return nil
}

// Run runs name with args in the node's namespace and returns its
// combined output; the error includes the output.
func (n *Node) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Host.NS, name}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("exec %s in %s: %w: %s", name, n.Host.NS, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}
