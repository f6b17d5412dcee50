package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/mariadbtest"
	"github.com/hacheck/hacheck/internal/state"
)

// VIPs for the live test of `hacheck run`, read through netlink on lo as
// any VIP is: 127.0.0.1 is on lo (held), 127.0.0.2 is inside 127.0.0.0/8
// but not an address of lo (not held: compared as an address, not as a
// prefix). Nothing is added to any interface.
const (
	runVIPHeld    = "vip: {address: 127.0.0.1/8, interface: lo}\n"
	runVIPNotHeld = "vip: {address: 127.0.0.2/8, interface: lo}\n"
)

// TestRunRolesLive: `hacheck run` against a real MariaDB primary (writable)
// and its GTID replica (read-only, replicating), with the VIP held or not.
func TestRunRolesLive(t *testing.T) {
	primary, replica := mariadbtest.StartPair(t)
	for _, s := range []*mariadbtest.Server{primary, replica} {
		s.CreateHacheckUser(t, liveHCUser, liveHCPass)
	}
	replica.Exec(t, "SET GLOBAL read_only = 1")
	mysqlDSN := func(s *mariadbtest.Server) string {
		return fmt.Sprintf("mysql: {dsn: '%s', query_timeout: 1s}\n", s.DSN(liveHCUser, liveHCPass))
	}
	closed := "mysql: {dsn: 'hacheck:x@tcp(127.0.0.1:1)/?timeout=500ms', query_timeout: 500ms}\n"
	client := lookClient(t)
	// A server that accepts connections and never answers: the check runs
	// out of check_timeout, which is never a reason to run.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hang.Close() })
	hanging := fmt.Sprintf("check_timeout: 300ms\nmysql: {dsn: 'hacheck:x@tcp(%s)/', query_timeout: 5s}\n", hang.Addr())
	// The state is written directly: undrain and drain on a node with a
	// database do more than flip it (standby preparation, cutover).
	set := func(n *testNode, to string) {
		if _, _, err := (state.Store{Dir: n.stateDir()}).Set(state.Change{To: to, Reason: "test"}); err != nil {
			n.t.Fatal(err)
		}
	}
	up := func(n *testNode) { set(n, state.Up) }
	drained := func(n *testNode) { set(n, state.Drained) }
	stale := func(n *testNode) {
		up(n)
		if _, err := (state.Store{Dir: n.stateDir()}).MarkStale("test: lost the primary role"); err != nil {
			n.t.Fatal(err)
		}
	}
	type run struct {
		role   string
		code   int
		ran    bool
		stderr string
	}
	for _, tt := range []struct {
		name  string
		extra string
		setup func(*testNode)
		runs  []run
	}{
		{"primary: writable, holds the VIP", mysqlDSN(primary) + runVIPHeld, up, []run{
			{"primary", 7, true, ""},
			{"replica", ExitOK, false, "not replica: holds the VIP"},
			{"up", 7, true, ""}}},
		{"replica: read-only, replicating, no VIP", mysqlDSN(replica) + runVIPNotHeld, up, []run{
			{"primary", ExitOK, false, "not primary: does not hold the VIP"},
			{"replica", 7, true, ""}}},
		{"drained replica still replicates", mysqlDSN(replica) + runVIPNotHeld, drained, []run{
			{"replica", 7, true, ""},
			{"up", ExitOK, false, "drained"}}},
		{"VIP on the read-only replica (promotion refused)", mysqlDSN(replica) + runVIPHeld, up, []run{
			{"primary", ExitOK, false, "holds the VIP but its server is read-only"},
			{"replica", ExitOK, false, "holds the VIP"}}},
		{"writable server without the VIP", mysqlDSN(primary) + runVIPNotHeld, up, []run{
			{"primary", ExitOK, false, "does not hold the VIP"},
			{"replica", ExitOK, false, "its server is writable"}}},
		{"drained primary", mysqlDSN(primary) + runVIPHeld, drained, []run{
			{"primary", ExitOK, false, "the state is drained"}}},
		{"stale ex-primary", mysqlDSN(primary) + runVIPHeld, stale, []run{
			{"primary", ExitOK, false, "stale ex-primary"},
			{"up", ExitOK, false, "stale ex-primary"}}},
		{"database unreadable", closed + runVIPHeld, up, []run{
			{"primary", ExitOK, false, "its server cannot be read"},
			{"replica", ExitOK, false, "holds the VIP"}}},
		{"database hangs", hanging + runVIPHeld, up, []run{
			{"primary", ExitOK, false, "not primary: "},
			{"replica", ExitOK, false, "not replica: "}}},
		{"state file missing", mysqlDSN(primary) + runVIPHeld, nil, []run{
			{"primary", ExitOK, false, "the state cannot be read"}}},
		{"state file corrupt", mysqlDSN(primary) + runVIPHeld, func(n *testNode) {
			os.MkdirAll(n.stateDir(), 0o755)
			os.WriteFile(filepath.Join(n.stateDir(), "state.json"), []byte(`{"state": "up"`), 0o644)
		}, []run{{"primary", ExitOK, false, "the state cannot be read"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.extra)
			if tt.setup != nil {
				tt.setup(n)
			}
			for _, r := range tt.runs {
				ran := filepath.Join(n.dir, "ran-"+r.role)
				code, _, errOut := n.hacheckRun("--role", r.role, "--", "sh", "-c", "touch "+ran+"; exit 7")
				_, err := os.Stat(ran)
				if code != r.code || (err == nil) != r.ran || !strings.Contains(errOut, r.stderr) {
					t.Errorf("--role %s: exit %d, ran %v, stderr %q; want exit %d, ran %v, stderr with %q", r.role, code, err == nil, errOut, r.code, r.ran, r.stderr)
				}
			}
		})
	}

	t.Run("replication stopped", func(t *testing.T) {
		replica.Exec(t, "STOP SLAVE")
		t.Cleanup(func() { replica.Exec(t, "START SLAVE") })
		n := newNode(t, mysqlDSN(replica)+runVIPNotHeld)
		up(n)
		code, _, errOut := n.hacheckRun("--role", "replica", "--", "touch", filepath.Join(n.dir, "ran"))
		if _, err := os.Stat(filepath.Join(n.dir, "ran")); code != ExitOK || err == nil || !strings.Contains(errOut, "not replica: its server does not replicate") {
			t.Errorf("exit %d, ran %v, stderr %q; want skipped: does not replicate", code, err == nil, errOut)
		}
	})

	// The job fences its own primary (as a move away does): the role is
	// read again when it ends, and the change is said and exits 120.
	t.Run("fenced while the command ran", func(t *testing.T) {
		t.Cleanup(func() { primary.Exec(t, "SET GLOBAL read_only = 0") })
		n := newNode(t, mysqlDSN(primary)+runVIPHeld)
		up(n)
		fence := fmt.Sprintf("%s --protocol=socket -S %s -uroot -e 'SET GLOBAL read_only = 1'", client, primary.Socket)
		code, _, errOut := n.hacheckRun("--role", "primary", "--", "sh", "-c", fence)
		if code != ExitRoleChanged || !strings.Contains(errOut, "role changed while the command ran: not primary: holds the VIP but its server is read-only") || !strings.Contains(errOut, "exit=0") {
			t.Errorf("exit %d, stderr %q; want %d and the change said", code, errOut, ExitRoleChanged)
		}
	})
}

// lookClient finds the mariadb command-line client (mariadb-server
// brings it).
func lookClient(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"/usr/bin/mariadb", "/usr/bin/mysql"} {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no mariadb client in /usr/bin: CI must install mariadb-client")
	}
	t.Skip("no mariadb client in /usr/bin: skipping")
	return ""
}
