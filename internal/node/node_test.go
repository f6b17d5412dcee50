package node

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/drain"
)

func load(t *testing.T, body string) *config.Config {
	t.Helper()
	f := filepath.Join(t.TempDir(), "hacheck.yaml")
	if err := os.WriteFile(f, []byte("node: a\nstate_dir: "+t.TempDir()+"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func build(t *testing.T, cfg *config.Config) *Node {
	t.Helper()
	n, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// The guard runs with check_timeout as its budget, reads the peer's
// server when peer.mysql_dsn is set, and a mysql check on mysql.dsn shares
// the guard's pool: one pool per DSN.
func TestChecksShareOnePoolPerDSN(t *testing.T) {
	cfg := load(t, `check_timeout: 3s
vip: {address: 192.0.2.250/32, interface: lo}
mysql: {dsn: 'hc:pw@tcp(127.0.0.1:3306)/', query_timeout: 1s, fence_timeout: 2s}
peer: {mysql_dsn: 'hc:pw@tcp(127.0.0.2:3306)/', url: 'http://192.0.2.12:8530'}
checks:
  - {name: db, type: mysql, mode: replica, max_lag: 10s}
  - {name: other, type: mysql, dsn: 'hc:pw@tcp(127.0.0.3:3306)/'}
  - {name: script, type: exec, command: [/bin/true]}
`)
	n := build(t, cfg)
	if len(n.pools) != 3 {
		t.Errorf("%d pools for 3 distinct DSNs", len(n.pools))
	}
	if len(n.checks) != 5 {
		t.Fatalf("checks: %+v", n.checks)
	}
	if j, ok := n.checks[4].Checker.(*drain.JournalCheck); !ok || j.Recovery.UndoFence == nil || j.Store.Dir != cfg.StateDir {
		t.Fatalf("drain journal entry %+v", n.checks[4])
	}
	rep, ok := n.checks[0].Checker.(*check.MySQLReplica)
	if !ok || rep.Server != n.local || rep.MaxLag != 10*time.Second {
		t.Errorf("replica check %+v does not use the mysql.dsn pool", n.checks[0].Checker)
	}
	if ex, ok := n.checks[2].Checker.(*check.Exec); !ok || len(ex.Env) == 0 || ex.Env[0] != EnvNode+"=a" {
		t.Errorf("exec check env: %+v", n.checks[2].Checker)
	}
	g, ok := n.checks[3].Checker.(*cutover.SplitBrainGuard)
	if !ok || n.checks[3].Timeout != cfg.CheckTimeout || g.Budget != cfg.CheckTimeout || g.Peer == nil ||
		g.Local != n.local || g.StateDir != cfg.StateDir || g.Held == nil || g.PeerStatus == nil {
		t.Fatalf("guard entry %+v, guard %+v", n.checks[3], n.checks[3].Checker)
	}
	if err := n.Close(); err != nil || len(n.pools) != 0 {
		t.Errorf("Close: %v, %d pools left", err, len(n.pools))
	}
}

// Without a database there is no guard, no notifier and no follow.
func TestNodeWithoutDatabase(t *testing.T) {
	n := build(t, load(t, ""))
	if len(n.checks) != 0 || n.HasDatabase() || n.MySQLStatus() != nil || n.VIPStatus() != nil {
		t.Errorf("checks %v, database %v", n.checks, n.HasDatabase())
	}
	if _, err := n.Notifier(); err != ErrNoDatabase {
		t.Errorf("Notifier: %v", err)
	}
	if err := n.Follow(t.Context(), 0, io.Discard); err != ErrFollowConfig {
		t.Errorf("Follow: %v", err)
	}
	plan, err := n.DrainPlan(drainOpts())
	if err != nil || len(plan.Steps) != 0 || len(plan.Preconditions) != 0 {
		t.Errorf("plan %+v, %v", plan, err)
	}
}

// With a database the drain is a cutover: peer-ready, then fence and
// catch-up on the node's pools.
func TestDrainPlanIsACutover(t *testing.T) {
	n := build(t, load(t, `mysql: {dsn: 'hc:pw@tcp(127.0.0.1:3306)/'}
peer: {mysql_dsn: 'hc:pw@tcp(127.0.0.2:3306)/', url: 'http://192.0.2.12:8530'}
`))
	plan, err := n.DrainPlan(drainOpts())
	if err != nil || len(plan.Preconditions) != 1 || len(plan.Steps) != 2 {
		t.Fatalf("plan %+v, %v", plan, err)
	}
	if f, ok := plan.Steps[0].(*cutover.Fence); !ok || f.Local != n.local {
		t.Errorf("step 0: %+v", plan.Steps[0])
	}
	if c, ok := plan.Steps[1].(*cutover.CatchUp); !ok || c.Peer != n.peerDB {
		t.Errorf("step 1: %+v", plan.Steps[1])
	}
}

func drainOpts() drain.Options { return drain.Options{Reason: "test"} }

// A keepalived.config whose priority cannot be read is not trusted: /status
// reports the error, so a move among several nodes does not rank by it.
func TestKeepalivedStatusUnreadablePriority(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(kc, []byte("vrrp_instance VI_1 {\n  state BACKUP\n  nopreempt\n  priority $PRIO\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := build(t, load(t, "keepalived: {config: "+kc+"}\n")).KeepalivedStatus()
	if k == nil || k.Instance != "VI_1" || !strings.Contains(k.Error, "priority") {
		t.Fatalf("KeepalivedStatus = %+v, want VI_1 with an error about its priority", k)
	}
}
