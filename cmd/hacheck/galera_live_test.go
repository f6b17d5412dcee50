package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/galeratest"
)

// TestGaleraCommandsLive runs check, drain and undrain as the CLI does on
// the one node of a real Galera cluster: the config's galera check, the
// health wiring, the drain precondition, the transition wait and the
// undrain rule, end to end.
func TestGaleraCommandsLive(t *testing.T) {
	c := galeratest.Start(t, galeratest.Options{Size: 1})
	g1 := c.Nodes[0]
	g1.CreateUserWith(t, "monitor", "monitor-secret", "")
	netName := "galera-cmd-" + c.Net.ID
	dial := c.Net.DialContext(g1.Host)
	db.RegisterDialContext(netName, func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) })
	n := newNode(t, fmt.Sprintf(`galera: {min_synced_others: 1, transition_period: 50ms}
checks:
  - {name: galera, type: galera, dsn: "monitor:monitor-secret@%s(%s:%d)/"}
`, netName, g1.IP(), galeratest.Port))

	expect := func(want int, substr string, args ...string) {
		t.Helper()
		code, out, errOut := n.hacheck(args...)
		if code != want || !strings.Contains(out+errOut, substr) {
			t.Fatalf("hacheck %v: exit %d, stdout %q, stderr %q; want exit %d and %q", args, code, out, errOut, want, substr)
		}
	}
	expect(ExitOK, "up", "undrain")
	expect(ExitOK, "OK: up; 1 check passed", "check")

	g1.Exec(t, "SET GLOBAL wsrep_desync = ON")
	defer g1.Exec(t, "SET GLOBAL wsrep_desync = OFF")
	expect(ExitFail, "desynced (wsrep_desync=ON)", "check")
	// Alone in its cluster: no other Synced member to take the traffic.
	expect(ExitFail, "0 other Synced member(s) in the Primary component, at least 1 needed", "drain")
	expect(ExitOK, "this Galera node can be stopped now", "drain", "--force", "--reason", "upgrade")
	expect(ExitFail, "not Synced yet", "undrain")
	expect(ExitOK, "up (generation", "undrain", "--force", "--reason", "by hand")

	b, err := os.ReadFile(filepath.Join(n.stateDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		State  string `json:"state"`
		Forced bool   `json:"forced"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.State != "up" || !st.Forced {
		t.Errorf("state after undrain --force: %s (%v); want up and forced", b, err)
	}
}
