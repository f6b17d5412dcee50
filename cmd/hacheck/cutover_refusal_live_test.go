package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// refusedDrain runs a drain on a that must be refused without a trace:
// exit 1, naming want, a still writable, state still up.
func refusedDrain(t *testing.T, a *dbNode, want string) string {
	t.Helper()
	code, out, errOut := a.hacheck("drain")
	if code != ExitFail || !strings.Contains(errOut, want) {
		t.Fatalf("drain: exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, ExitFail, want, out, errOut)
	}
	if a.readOnly() {
		t.Fatalf("refused drain left %s read-only\n%s", a.name, out)
	}
	if a.stateName() != state.Up {
		t.Fatalf("refused drain changed the state to %s", a.stateName())
	}
	return out + errOut
}

func TestLiveDrainRefusals(t *testing.T) {
	a, b := livePair(t, "", "")
	a.edit("catchup_timeout: 5s", "catchup_timeout: 1500ms")

	t.Run("peer replica stopped", func(t *testing.T) {
		b.srv.Exec(t, "STOP SLAVE")
		defer b.srv.Exec(t, "START SLAVE")
		refusedDrain(t, a, "IO thread stopped")
	})
	b.srv.MakeReplicaOf(t, a.srv)

	t.Run("peer SQL thread stopped", func(t *testing.T) {
		b.srv.Exec(t, "STOP SLAVE SQL_THREAD")
		defer b.srv.Exec(t, "START SLAVE SQL_THREAD")
		refusedDrain(t, a, "SQL thread stopped")
	})
	b.srv.MakeReplicaOf(t, a.srv)

	t.Run("peer lagging past the catch-up timeout", func(t *testing.T) {
		// Both threads run, no error: only the catch-up wait can tell.
		b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 60", "START SLAVE")
		defer b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE")
		// The IO thread reads "Preparing"/"Connecting" for a moment after
		// START SLAVE; the drain must meet a running replica so that only
		// the catch-up wait can refuse it.
		wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.srv.WaitReplicaRunning(wctx); err != nil {
			t.Fatal(err)
		}
		a.srv.Exec(t, "INSERT INTO app.t VALUES (100001, 'lag')")
		start := time.Now()
		out := refusedDrain(t, a, "catch-up: ")
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("refusal took %s; the catch-up timeout is 1.5s", took)
		}
		if !strings.Contains(out, "undo fence: done") {
			t.Fatalf("fence not undone:\n%s", out)
		}
	})
	b.srv.MakeReplicaOf(t, a.srv)

	t.Run("peer hacheck drained", func(t *testing.T) {
		b.must("drain", "--force")
		defer b.must("undrain", "--keepalived-config", "/nonexistent")
		refusedDrain(t, a, `is "drained", not up`)
	})

	t.Run("peer replicates from another server", func(t *testing.T) {
		c := startDBServer(t)
		b.srv.MakeReplicaOf(t, c)
		refusedDrain(t, a, "not from this server")
	})
	b.srv.MakeReplicaOf(t, a.srv)

	t.Run("dry run", func(t *testing.T) {
		out := a.must("drain", "--dry-run")
		if !strings.Contains(out, "would fence") || !strings.Contains(out, "would wait up to") || a.readOnly() || a.stateName() != state.Up {
			t.Fatalf("dry run:\n%s", out)
		}
	})
}

// A stopped (SIGSTOP) server answers nothing: `check` must still exit 1
// within its deadline.
func TestLiveCheckHungServerIsBounded(t *testing.T) {
	a, b := livePair(t, "", "")
	_ = b
	if err := a.srv.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.srv.Resume() })
	start := time.Now()
	code, out, _ := a.hacheck("check")
	took := time.Since(start)
	if code != ExitFail || !strings.Contains(out, "check db failed") {
		t.Fatalf("check on a stopped server: exit %d %q", code, out)
	}
	if took > 2500*time.Millisecond { // check_timeout 2s, the check's own 1s
		t.Fatalf("check took %s, beyond its deadline", took)
	}
	t.Logf("check on a SIGSTOPped server: exit %d in %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(out))
}

func TestLiveWrongCredentialsNamed(t *testing.T) {
	a, b := livePair(t, "", "")
	_ = b
	body, _ := os.ReadFile(a.config)
	bad := strings.Replace(string(body), liveHCPass, "wrong-pass-31337", 1)
	os.WriteFile(a.config, []byte(bad), 0o600)
	code, out, _ := a.hacheck("check")
	if code != ExitFail || !strings.Contains(out, "hacheck:***@tcp("+a.srv.Addr+")/") || !strings.Contains(out, "Access denied") || strings.Contains(out, "wrong-pass") {
		t.Fatalf("check with a wrong password: exit %d %q", code, out)
	}
	t.Logf("wrong credentials: %s", strings.TrimSpace(out))
}

// Unplanned failover with promote.unplanned refuse: the old primary is
// gone; MASTER on the replica leaves it read-only and says why, in the
// exit code, the output and status; promote --force then promotes.
func TestLiveUnplannedRefuseThenForce(t *testing.T) {
	a, b := livePair(t, "", "")
	a.srv.Exec(t, "INSERT INTO app.t VALUES (1, 'before')")
	b.srv.WaitCaughtUp(t, a.srv, 5*time.Second)
	if err := a.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := b.hacheck("notify", "INSTANCE", "VI_1", "MASTER", "100")
	if code != ExitFail || !strings.Contains(out, "refused") || !strings.Contains(errOut, "cannot be reached") {
		t.Fatalf("notify MASTER with the old primary dead: exit %d\n%s\n%s", code, out, errOut)
	}
	if !b.readOnly() {
		t.Fatal("refused promotion left the server writable")
	}
	_, js, _ := b.hacheck("status", "--json")
	var rep health.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.MySQL == nil || rep.MySQL.Action != "refused" ||
		!strings.Contains(rep.MySQL.Detail, "promote --force") || rep.MySQL.ReadOnly == nil || !*rep.MySQL.ReadOnly {
		t.Fatalf("status does not say why: %v %s", err, js)
	}
	_, text, _ := b.hacheck("status")
	if !strings.Contains(text, "refused after MASTER") {
		t.Fatalf("status text:\n%s", text)
	}
	// Idempotent: the same refusal again.
	if code, _, _ := b.hacheck("notify", "INSTANCE", "VI_1", "MASTER", "100"); code != ExitFail || !b.readOnly() {
		t.Fatalf("second MASTER: exit %d, read_only %v", code, b.readOnly())
	}
	out = b.must("promote", "--force")
	if !strings.Contains(out, "UNPLANNED") || b.readOnly() {
		t.Fatalf("promote --force: %s (read_only %v)", out, b.readOnly())
	}
	b.srv.Exec(t, "INSERT INTO app.t VALUES (2, 'after')")
	// BACKUP fences it again; a MASTER that started before that BACKUP
	// but arrives after it is ignored.
	b.must("notify", "INSTANCE", "VI_1", "BACKUP", "100")
	if !b.readOnly() {
		t.Fatal("BACKUP did not fence")
	}
}

// The split-brain guard, live: a writable server on a node without the VIP
// while the peer holds it fails the check and is fenced; at bootstrap (no
// one holds the VIP) a writable primary passes.
func TestLiveSplitBrainGuard(t *testing.T) {
	a, b := livePair(t, "", "")
	peerHolds := true
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"node": "node-a", "healthy": true, "state": map[string]any{"state": "up"},
			"vip": map[string]any{"address": "192.0.2.250/32", "interface": "lo", "held": peerHolds}})
	}))
	t.Cleanup(fake.Close)
	b.edit(a.status.URL, fake.URL)
	b.edit("checks:\n", "vip:\n  address: 192.0.2.250/32\n  interface: lo\nchecks:\n")

	b.srv.Exec(t, "SET GLOBAL read_only = OFF") // the stale job's server
	code, out, _ := b.hacheck("check")
	if code != ExitFail || !strings.Contains(out, "SPLIT BRAIN") || !b.readOnly() {
		t.Fatalf("writable standby while the peer holds the VIP: exit %d %q read_only %v", code, out, b.readOnly())
	}
	t.Logf("guard: %s", strings.TrimSpace(out))
	if code, out, _ := b.hacheck("check"); code != ExitOK {
		t.Fatalf("fenced standby: exit %d %q", code, out)
	}
	// Bootstrap: nobody holds the VIP and the peer's server is read-only;
	// the writable primary may claim it.
	peerHolds = false
	a.srv.Exec(t, "SET GLOBAL read_only = ON")
	b.srv.Exec(t, "SET GLOBAL read_only = OFF")
	if code, out, _ := b.hacheck("check"); code != ExitOK || !strings.Contains(out, "OK") || b.readOnly() {
		t.Fatalf("bootstrap: exit %d %q read_only %v", code, out, b.readOnly())
	}
	// Nobody holds the VIP, but the peer's server is writable too: two
	// primaries; this one, without the VIP, is fenced.
	a.srv.Exec(t, "SET GLOBAL read_only = OFF")
	if code, out, _ := b.hacheck("check"); code != ExitFail || !strings.Contains(out, "SPLIT BRAIN") || !b.readOnly() {
		t.Fatalf("two writable servers, no VIP: exit %d %q read_only %v", code, out, b.readOnly())
	}
	// The peer's hacheck is down and its server is read-only: whether
	// anyone holds the VIP is unknown: unhealthy, not fenced.
	fake.Close()
	a.srv.Exec(t, "SET GLOBAL read_only = ON")
	b.srv.Exec(t, "SET GLOBAL read_only = OFF")
	if code, out, _ := b.hacheck("check"); code != ExitFail || !strings.Contains(out, "not fencing") || b.readOnly() {
		t.Fatalf("peer hacheck down: exit %d %q read_only %v", code, out, b.readOnly())
	}
}
