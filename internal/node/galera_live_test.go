package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/galeratest"
	"github.com/hacheck/hacheck/internal/state"
)

// galeraNodeConfig is g1's hacheck configuration: a galera check whose DSN
// dials from g1's namespace (so the other members are reached from there
// too), and galera.min_synced_others = min.
func galeraNodeConfig(t *testing.T, c *galeratest.Cluster, stateDir string, min int) *config.Config {
	t.Helper()
	g1 := c.Nodes[0]
	netName := "galera-drain-" + c.Net.ID
	dial := c.Net.DialContext(g1.Host)
	db.RegisterDialContext(netName, func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) })
	yaml := fmt.Sprintf(`node: g1
state_dir: %s
galera: {min_synced_others: %d, transition_period: 1s}
checks:
  - {name: galera, type: galera, dsn: "monitor:monitor-secret@%s(%s:%d)/"}
`, stateDir, min, netName, g1.IP(), galeratest.Port)
	p := filepath.Join(t.TempDir(), "hacheck.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestGaleraDrainLive drains and undrains g1 of a real cluster: refused
// while too few other members are Synced, an undrain refused until g1 is
// Synced again unless forced.
func TestGaleraDrainLive(t *testing.T) {
	c := galeratest.Start(t, galeratest.Options{})
	g1, g2, g3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	g1.CreateUserWith(t, "monitor", "monitor-secret", "")
	ctx := galeratest.Context(t, 3*time.Minute)
	stateDir := t.TempDir()
	st := state.Store{Dir: stateDir}

	dryRun := func(t *testing.T, min int) (drain.Result, string, error) {
		t.Helper()
		n := build(t, galeraNodeConfig(t, c, stateDir, min))
		var out bytes.Buffer
		res, err := n.Drain(ctx, drain.Options{DryRun: true, Via: "cli"}, &out)
		return res, out.String(), err
	}
	wantRefused := func(t *testing.T, min int, detail string) {
		t.Helper()
		res, out, err := dryRun(t, min)
		if res.Outcome != drain.Refused || !errors.Is(err, drain.ErrRefused) || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Detail, detail) {
			t.Errorf("min_synced_others %d: outcome %v, err %v, failures %+v; want refused with %q\n%s", min, res.Outcome, err, res.Failures, detail, out)
		}
	}
	wantPassed := func(t *testing.T, min int, detail string) {
		t.Helper()
		res, out, err := dryRun(t, min)
		if res.Outcome != drain.DryRunPassed || err != nil || !strings.Contains(out, detail) {
			t.Errorf("min_synced_others %d: outcome %v, err %v; want the dry run to pass, saying %q\n%s", min, res.Outcome, err, detail, out)
		}
	}

	// A Synced node undrains.
	n := build(t, galeraNodeConfig(t, c, stateDir, 1))
	var out bytes.Buffer
	if _, _, err := n.Undrain(ctx, drain.Options{Via: "cli"}, &out); err != nil {
		t.Fatalf("undrain of a Synced node: %v\n%s", err, out.String())
	}

	t.Run("all synced", func(t *testing.T) {
		wantPassed(t, 1, "2 other Synced member(s)")
		wantPassed(t, 2, "2 other Synced member(s)")
		wantRefused(t, 3, "2 other Synced member(s) in the Primary component, at least 3 needed")
	})

	t.Run("another member desynced", func(t *testing.T) {
		g2.Exec(t, "SET GLOBAL wsrep_desync = ON")
		defer g2.Exec(t, "SET GLOBAL wsrep_desync = OFF")
		if err := g2.WaitStatus(ctx, "wsrep_local_state", "2"); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, 2, g2.IP()+":3306: desynced")
		wantPassed(t, 1, "1 other Synced member(s)")
	})
	if err := g2.WaitStatus(ctx, "wsrep_local_state", "4"); err != nil {
		t.Fatal(err)
	}

	t.Run("drain, then undrain only once Synced", func(t *testing.T) {
		n := build(t, galeraNodeConfig(t, c, stateDir, 1))
		var out bytes.Buffer
		if res, err := n.Drain(ctx, drain.Options{Via: "cli", Reason: "rolling upgrade"}, &out); err != nil || res.Outcome != drain.Drained {
			t.Fatalf("drain: %v, %v\n%s", res.Outcome, err, out.String())
		}
		g1.Exec(t, "SET GLOBAL wsrep_desync = ON")
		defer g1.Exec(t, "SET GLOBAL wsrep_desync = OFF")
		if err := g1.WaitStatus(ctx, "wsrep_local_state", "2"); err != nil {
			t.Fatal(err)
		}
		_, _, err := n.Undrain(ctx, drain.Options{Via: "cli"}, &out)
		if !errors.Is(err, drain.ErrRefused) || !strings.Contains(err.Error(), "not Synced yet") {
			t.Errorf("undrain of a desynced node: %v; want refused, not Synced", err)
		}
		if s, err := st.Load(); err != nil || s.IsUp() {
			t.Errorf("after the refused undrain: %+v, %v; want still drained", s, err)
		}
		s, changed, err := n.Undrain(ctx, drain.Options{Via: "cli", Force: true, Reason: "forced"}, &out)
		if err != nil || !changed || !s.IsUp() || !s.Forced {
			t.Errorf("undrain --force: %+v, %v, %v; want up and forced recorded", s, changed, err)
		}
	})

	t.Run("a member stopped", func(t *testing.T) {
		if err := g3.Shutdown(); err != nil {
			t.Fatal(err)
		}
		if err := g1.WaitStatus(ctx, "wsrep_cluster_size", "2"); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, 2, "1 other Synced member(s) in the Primary component, at least 2 needed")
		wantPassed(t, 1, "1 other Synced member(s)")
	})
}
