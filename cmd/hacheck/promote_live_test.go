package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/health"
)

// After a planned cutover the new primary keeps its replication
// configuration, threads stopped. A repeated MASTER (keepalived restarted
// or reloaded) while the old primary is down must say what the server is,
// the writable primary: exit 0, recorded as writable, nothing changed.
func TestLiveRepeatedMasterOnPromotedPrimary(t *testing.T) {
	a, b := livePair(t, "", "")
	a.srv.Exec(t, "INSERT INTO app.t VALUES (1, 'before')")
	b.srv.WaitCaughtUp(t, a.srv, 5*time.Second)
	a.must("drain", "--reason", "move to b")
	if out := b.must("notify", "INSTANCE", "VI_1", "MASTER", "100"); !strings.Contains(out, "promoted") {
		t.Fatalf("first MASTER: %s", out)
	}
	a.must("notify", "INSTANCE", "VI_1", "FAULT", "0")
	if got := b.srv.QueryString(t, "SELECT COUNT(*) FROM information_schema.processlist WHERE command = 'Slave_IO'"); got != "0" {
		t.Fatalf("replica IO thread still running on the promoted server (%s)", got)
	}
	if err := a.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := b.hacheck("notify", "INSTANCE", "VI_1", "MASTER", "100")
	if code != ExitOK || !strings.Contains(out, "writable") || !strings.Contains(out, "already the writable primary") {
		t.Fatalf("repeated MASTER with the old primary down: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if b.readOnly() {
		t.Fatal("the promoted server is read-only")
	}
	b.srv.Exec(t, "INSERT INTO app.t VALUES (2, 'after')")
	_, js, _ := b.hacheck("status", "--json")
	var rep health.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || rep.MySQL == nil || rep.MySQL.Action != "writable" ||
		rep.MySQL.ReadOnly == nil || *rep.MySQL.ReadOnly {
		t.Fatalf("status after the repeated MASTER: %v %s", err, js)
	}
	// hacheck promote, by hand, is idempotent the same way.
	if out := b.must("promote"); !strings.Contains(out, "already the writable primary") {
		t.Fatalf("promote on the primary: %s", out)
	}
}
