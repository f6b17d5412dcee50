package main

import (
	"context"
	"io"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/txnload"
)

// Drains under the transactional workload that makes a plain fence time
// out (8 clients, hot rows of 4 tables of 200 rows): every `hacheck drain`
// completes, its fence killing what holds it up, the replica catches up,
// CHECKSUM TABLE agrees on both servers, and no acknowledged commit is
// missing on either. After each drain, A is put back (undrain, writable
// again) for the next one. 5 drains; HACHECK_FULL=1 runs 20.
func TestLiveDrainsUnderTxnLoad(t *testing.T) {
	drains := 5
	if os.Getenv("HACHECK_FULL") != "" {
		drains = 20
	}
	_ = mysql.SetLogger(log.New(io.Discard, "", 0)) // the load's killed connections
	a, b := livePair(t, "", "")
	const oltpUser, oltpPass = "oltp", "oltp-secret-3c9d"
	for _, n := range []*dbNode{a, b} {
		n.srv.CreateUserWith(t, oltpUser, oltpPass, "SELECT, INSERT, UPDATE, DELETE")
	}
	lc := txnload.Config{Threads: 8, Tables: 4, Rows: 200, DSN: a.srv.DSN(oltpUser, oltpPass)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := txnload.Setup(ctx, a.srv.DB(), lc); err != nil {
		t.Fatal(err)
	}
	b.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
	l, err := txnload.Start(lc)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	waitCommits := func(n int) {
		t.Helper()
		want := len(l.Snapshot().Acked) + n
		for end := time.Now().Add(20 * time.Second); len(l.Snapshot().Acked) < want; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("the load committed %d of %d transactions within 20s (last error %s)", len(l.Snapshot().Acked), want, l.Snapshot().LastErr)
			}
		}
	}
	sums := func(n *dbNode) map[string]int64 {
		t.Helper()
		m, err := txnload.Checksums(ctx, n.srv.DB(), lc)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// mysql.fence_kill: false keeps the refusal: the fence times out, the
	// drain is refused and A is writable again.
	waitCommits(50)
	a.edit("  fence_timeout: 2s\n", "  fence_timeout: 2s\n  fence_kill: false\n")
	code, out, errOut := a.hacheck("drain", "--reason", "fence under load, no kill")
	if code == ExitOK || !strings.Contains(out+errOut, "1205") || !strings.Contains(out+errOut, "mysql.fence_kill is off") || a.readOnly() || a.stateName() != state.Up {
		t.Fatalf("drain with fence_kill off: exit %d, read_only %v, state %s\n%s%s", code, a.readOnly(), a.stateName(), out, errOut)
	}
	t.Logf("with mysql.fence_kill off: exit %d\n%s%s", code, out, errOut)
	a.edit("  fence_kill: false\n", "")

	store := state.Store{Dir: filepath.Join(a.dir, "state")}
	var waits []time.Duration
	var kills []int
	for i := range drains {
		waitCommits(50)
		out := a.must("drain", "--reason", "fence under load")
		rec, ok, err := drain.LoadRecord(store)
		if err != nil || !ok || rec.Outcome != "drained" {
			t.Fatalf("drain %d: record %+v, %v, %v", i+1, rec, ok, err)
		}
		var fence time.Duration
		for _, p := range rec.Phases {
			if p.Name == "fence" {
				fence = time.Duration(p.Seconds * float64(time.Second))
			}
		}
		waits, kills = append(waits, fence), append(kills, len(rec.Killed))
		if len(rec.Killed) > 0 && !strings.Contains(out, "killed") {
			t.Errorf("drain %d: the record lists %d killed connections, the output none:\n%s", i+1, len(rec.Killed), out)
		}
		for _, k := range rec.Killed {
			if k.User != oltpUser {
				t.Errorf("drain %d killed %s, not a connection of the load", i+1, k)
			}
		}
		// The drain's catch-up step waited for B; everything on A is on B.
		if pa, pb := a.gtidPos(), b.gtidPos(); pa != pb {
			t.Fatalf("drain %d: A at %s, B at %s after the drain", i+1, pa, pb)
		}
		if d := txnload.DiffChecksums(sums(a), sums(b)); len(d) > 0 {
			t.Fatalf("drain %d: tables differ between A and B: %v", i+1, d)
		}
		t.Logf("drain %d: fence step %s, killed %d\n%s", i+1, fence.Round(time.Millisecond), len(rec.Killed), out)
		a.must("undrain", "--keepalived-config", "/nonexistent")
		a.srv.Exec(t, "SET GLOBAL read_only = OFF")
	}
	waitCommits(20)
	st := l.Stop()
	b.srv.WaitCaughtUp(t, a.srv, 10*time.Second)
	for _, n := range []*dbNode{a, b} {
		lost, rows, err := txnload.Lost(ctx, n.srv.DB(), lc.Database, st.Acked)
		if err != nil {
			t.Fatal(err)
		}
		if len(lost) > 0 {
			t.Fatalf("%d acknowledged commits missing on %s: %v", len(lost), n.name, lost[:min(len(lost), 20)])
		}
		t.Logf("%s: ledger %d rows, all %d acknowledged commits among them", n.name, rows, len(st.Acked))
	}
	if d := txnload.DiffChecksums(sums(a), sums(b)); len(d) > 0 {
		t.Fatalf("at the end, tables differ between A and B: %v", d)
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	at := func(p int) time.Duration { return waits[max(0, (p*len(waits)+99)/100-1)].Round(time.Millisecond) }
	t.Logf("%d of %d drains completed; fence step p50 %s p95 %s max %s; killed per drain %v; load: %d acknowledged, %d failed %v",
		len(waits), drains, at(50), at(95), at(100), kills, len(st.Acked), st.Failed, st.Errors)
}
