package check_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/galeratest"
	"github.com/hacheck/hacheck/internal/lab"
)

// monitor is the account both hacheck and the clustercheck-style script
// use: it has no privilege at all (USAGE), which is all either needs.
const monitorUser, monitorPass = "monitor", "monitor-secret"

// liveNode is one cluster member as hacheck (over TCP from inside the
// member's namespace) and the clustercheck-style script see it.
type liveNode struct {
	*galeratest.Node
	srv    *db.Server
	script string
}

func newLiveNode(t *testing.T, c *galeratest.Cluster, n *galeratest.Node, script string) *liveNode {
	t.Helper()
	dialer := c.Net.DialContext(n.Host)
	netName := "galera-" + c.Net.ID + "-" + n.Name
	mysql.RegisterDialContext(netName, func(ctx context.Context, addr string) (net.Conn, error) { return dialer(ctx, "tcp", addr) })
	srv, err := db.Open(fmt.Sprintf("%s:%s@%s(%s:%d)/", monitorUser, monitorPass, netName, n.IP(), galeratest.Port), db.Options{QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &liveNode{Node: n, srv: srv, script: script}
}

// hacheck runs the galera check as `hacheck check` would: within a
// deadline of 1 s.
func (n *liveNode) hacheck(p check.GaleraPolicy) check.Result {
	g := &check.Galera{DB: n.srv, Server: n.Name, Policy: p}
	return check.Run(context.Background(), g, time.Second)
}

// clustercheck runs the clustercheck-style script in the node's namespace
// and returns its HTTP status code.
func (n *liveNode) clustercheck(t *testing.T, availableWhenDonor, availableWhenReadonly bool) string {
	t.Helper()
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := n.Run(ctx, "env", "MYSQL_USERNAME="+monitorUser, "MYSQL_PASSWORD="+monitorPass, "MYSQL_HOST="+n.IP(),
		"AVAILABLE_WHEN_DONOR="+b(availableWhenDonor), "AVAILABLE_WHEN_READONLY="+b(availableWhenReadonly),
		"MAINTENANCE_FILE=/nonexistent/clustercheck.maintenance", "TIMEOUT=2", n.script)
	if err != nil {
		t.Fatalf("clustercheck-style script on %s: %v", n.Name, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("clustercheck-style script on %s: no status line in %q", n.Name, out)
	}
	return f[1]
}

// observation is hacheck's verdicts and clustercheck's answers for one
// node in one state.
type observation struct {
	state                   string
	hacheck, hacheckDonorOK check.Result
	cc, ccDonor             string // AVAILABLE_WHEN_DONOR 0, 1
}

func (n *liveNode) observe(t *testing.T, state string) observation {
	t.Helper()
	return observation{
		state:          state,
		hacheck:        n.hacheck(check.GaleraPolicy{ReadOnlyOK: true}),
		hacheckDonorOK: n.hacheck(check.GaleraPolicy{DonorOK: true, ReadOnlyOK: true}),
		cc:             n.clustercheck(t, false, true),
		ccDonor:        n.clustercheck(t, true, true),
	}
}

func (o observation) want(t *testing.T, node string, hacheck, hacheckDonorOK bool, cc, ccDonor string, detail string) {
	t.Helper()
	t.Logf("%-12s %s: hacheck %-5v donor_ok %-5v | clustercheck %s, AVAILABLE_WHEN_DONOR=1 %s | %s",
		o.state, node, o.hacheck.OK, o.hacheckDonorOK.OK, o.cc, o.ccDonor, o.hacheck.Detail)
	if o.hacheck.OK != hacheck || o.hacheckDonorOK.OK != hacheckDonorOK || o.cc != cc || o.ccDonor != ccDonor {
		t.Errorf("%s on %s: hacheck %v, with donor_ok %v, clustercheck %s, with AVAILABLE_WHEN_DONOR=1 %s; want %v, %v, %s, %s",
			o.state, node, o.hacheck.OK, o.hacheckDonorOK.OK, o.cc, o.ccDonor, hacheck, hacheckDonorOK, cc, ccDonor)
	}
	if !strings.Contains(o.hacheck.Detail, detail) {
		t.Errorf("%s on %s: detail %q does not contain %q", o.state, node, o.hacheck.Detail, detail)
	}
}

// TestGaleraLiveStates puts real cluster members into each state and
// compares the galera check's verdict with clustercheck's rule.
func TestGaleraLiveStates(t *testing.T) {
	c := galeratest.Start(t, galeratest.Options{})
	script, err := lab.RepoFile("scripts/clustercheck-style.sh")
	if err != nil {
		t.Fatal(err)
	}
	c.Nodes[0].CreateUserWith(t, monitorUser, monitorPass, "") // replicated to every member
	var nodes []*liveNode
	for _, n := range c.Nodes {
		nodes = append(nodes, newLiveNode(t, c, n, script))
	}
	g1, g2, g3 := nodes[0], nodes[1], nodes[2]
	ctx := galeratest.Context(t, 5*time.Minute)

	t.Run("synced", func(t *testing.T) {
		for _, n := range nodes {
			n.observe(t, "synced").want(t, n.Name, true, true, "200", "200", "Synced, Primary, cluster size 3")
		}
	})

	t.Run("desynced", func(t *testing.T) {
		g2.Exec(t, "SET GLOBAL wsrep_desync = ON")
		if err := g2.WaitStatus(ctx, "wsrep_local_state", "2"); err != nil {
			t.Fatal(err)
		}
		g2.observe(t, "desynced").want(t, g2.Name, false, false, "503", "200", "wsrep_desync=ON")
		g2.Exec(t, "SET GLOBAL wsrep_desync = OFF")
		if err := g2.WaitStatus(ctx, "wsrep_local_state", "4"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("read_only", func(t *testing.T) {
		g1.Exec(t, "SET GLOBAL read_only = ON")
		defer g1.Exec(t, "SET GLOBAL read_only = OFF")
		// Setting read_only pauses the provider: the node passes through
		// Donor/Desynced for a moment.
		if err := g1.WaitStatus(ctx, "wsrep_local_state", "4"); err != nil {
			t.Fatal(err)
		}
		if r := g1.hacheck(check.GaleraPolicy{ReadOnlyOK: true}); !r.OK {
			t.Errorf("read_only_ok true: %v", r)
		}
		r := g1.hacheck(check.GaleraPolicy{})
		cc := g1.clustercheck(t, false, false)
		t.Logf("read_only    %s: hacheck read_only_ok=false %v | clustercheck AVAILABLE_WHEN_READONLY=0 %s | %s", g1.Name, r.OK, cc, r.Detail)
		if r.OK || !strings.Contains(r.Detail, "read_only is ON") || cc != "503" {
			t.Errorf("read_only_ok false: %v; clustercheck %s; want failed, 503", r, cc)
		}
	})

	t.Run("non-Primary", func(t *testing.T) {
		if err := g3.Isolate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := g3.WaitStatus(ctx, "wsrep_cluster_status", "non-Primary"); err != nil {
			t.Fatal(err)
		}
		g3.observe(t, "non-Primary").want(t, g3.Name, false, false, "503", "503", "non-Primary component")
		if err := g1.WaitStatus(ctx, "wsrep_cluster_size", "2"); err != nil {
			t.Fatal(err)
		}
		g1.observe(t, "rest").want(t, g1.Name, true, true, "200", "200", "Primary, cluster size 2")
		if err := g3.Reconnect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitSynced(ctx, 3); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("stopped and donor", func(t *testing.T) {
		// Enough data that the rsync SST lasts long enough to watch.
		g1.Exec(t, "CREATE DATABASE IF NOT EXISTS app", "CREATE TABLE app.blob (id INT PRIMARY KEY, b LONGBLOB)")
		for i := range sstRows() {
			g1.Exec(t, fmt.Sprintf("INSERT INTO app.blob VALUES (%d, REPEAT('x', 1000000))", i))
		}
		if err := g3.Shutdown(); err != nil {
			t.Fatal(err)
		}
		g3.observe(t, "stopped").want(t, g3.Name, false, false, "503", "503", "connect")
		if err := g3.WipeDataDir(); err != nil {
			t.Fatal(err)
		}
		restarted := make(chan error, 1)
		go func() { restarted <- g3.Restart() }()
		var donor *observation
		var donorName string
		for donor == nil {
			select {
			case err := <-restarted:
				t.Fatalf("g3 rejoined (%v) before a donor was seen: raise GALERA_SST_MB", err)
			case <-time.After(20 * time.Millisecond):
			}
			for _, n := range []*liveNode{g1, g2} {
				if s, err := n.Status(ctx, "wsrep_local_state"); err == nil && s == "2" {
					o := n.observe(t, "donor")
					// The SST may have ended between the status and the checks.
					if o.hacheckDonorOK.OK || o.ccDonor == "200" {
						donor, donorName = &o, n.Name
					}
					break
				}
			}
		}
		donor.want(t, donorName, false, true, "503", "200", "donor_ok is false")
		if err := <-restarted; err != nil {
			t.Fatal(err)
		}
		if err := c.WaitSynced(ctx, 3); err != nil {
			t.Fatal(err)
		}
		g3.observe(t, "rejoined").want(t, g3.Name, true, true, "200", "200", "Synced")
	})
}
