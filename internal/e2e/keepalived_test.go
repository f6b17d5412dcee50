package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

// TestLabConfigLoads checks that the hacheck.yaml the lab writes for every
// node is accepted by the real configuration loader and says what the lab
// means.
func TestLabConfigLoads(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: hacheckBinary(t)})
	for _, n := range l.Nodes() {
		cfg, err := config.Load(n.HacheckConfig)
		if err != nil {
			t.Errorf("node %s: %s does not load: %v", n.Name, n.HacheckConfig, err)
			continue
		}
		if cfg.Node != n.Name || cfg.StateDir != n.StateDir || cfg.VIP.Address != lab.VIP || cfg.VIP.Interface != "eth0" {
			t.Errorf("node %s: loaded node=%q state_dir=%q vip=%v on %q; want %q, %q, %v on eth0",
				n.Name, cfg.Node, cfg.StateDir, cfg.VIP.Address, cfg.VIP.Interface, n.Name, n.StateDir, lab.VIP)
		}
	}
}

// TestDrainMovesVIP runs the real hacheck binary as keepalived's track
// script and drain flag on both nodes:
//
//   - A (priority 254) holds the VIP; `hacheck drain` on A moves it to B,
//     and a client reaching http://VIP:8530/status gets B's hacheck serve;
//   - while A is drained the VIP never comes back to it, and undraining A
//     does not take the VIP from a healthy B (nopreempt);
//   - removing state.json on B (the holder) gives the VIP to A: the check
//     fails closed although the track file still says 0;
//   - the VIP is never on both nodes at once.
func TestDrainMovesVIP(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: hacheckBinary(t)})
	ctx := labtest.Context(t, 2*time.Minute)

	for _, n := range l.Pair() {
		t.Logf("undrain %s: %s", n.Name, mustHacheck(t, ctx, l, n, "undrain", "--reason", "e2e start"))
	}
	mon, err := l.MonitorVIP()
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	startPair(t, ctx, l)
	if hs := mon.Holders(); len(hs) != 1 || hs[0] != l.A {
		t.Fatalf("after start the VIP is on %v, want a alone", names(hs))
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if _, err := statusVia(wctx, l, "a"); err != nil {
		t.Fatal(err)
	}
	cancel()

	// Drain A: the VIP moves to B.
	drained := time.Now()
	out := mustHacheck(t, ctx, l, l.A, "drain", "--reason", "e2e")
	took := time.Since(drained)
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	at, err := mon.WaitHolder(wctx, l.B)
	cancel()
	if err != nil {
		t.Fatalf("after hacheck drain on a (%s): %v", out, err)
	}
	t.Logf("hacheck drain on a (%v, %q) -> VIP on b alone after %v (floor: b's skew time %v)", ms(took), out, ms(at.Sub(drained)), time.Duration(256-l.B.Priority)*time.Second/256)
	if d := at.Sub(drained); d > 3*time.Second {
		t.Errorf("drain -> VIP moved took %v; a FAULT should move it within about the skew time", d)
	}
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	if _, err := statusVia(wctx, l, "b"); err != nil {
		t.Fatal(err)
	}
	cancel()
	t.Log("client -> http://VIP:8530/status answered by b")

	// Keep A drained for a while: the VIP must not come back.
	time.Sleep(3 * time.Second)
	if back := mon.AddedSince(l.A, drained); len(back) > 0 {
		t.Fatalf("the VIP came back to drained a at %v", back)
	}

	// Undrain A: with nopreempt it must not take the VIP from healthy B.
	off := lab.LogSize(l.A.KeepalivedLog)
	undrained := time.Now()
	t.Logf("undrain a: %s", mustHacheck(t, ctx, l, l.A, "undrain", "--reason", "e2e"))
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	if _, err := lab.WaitForLog(wctx, l.A.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(4500 * time.Millisecond) // preempt would have moved it after about 3.4 s
	if back := mon.AddedSince(l.A, drained); len(back) > 0 {
		t.Fatalf("the VIP moved back to a at %v (undrain at %v): nopreempt lost?", back, undrained)
	}
	if hs := mon.Holders(); len(hs) != 1 || hs[0] != l.B {
		t.Fatalf("after undrain of a the VIP is on %v, want b alone", names(hs))
	}

	// Remove B's state file: hacheck check fails closed and the VIP goes
	// to A, although the track file still reads 0.
	removed := time.Now()
	if err := os.Remove(filepath.Join(l.B.StateDir, "state.json")); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	at, err = mon.WaitHolder(wctx, l.A)
	cancel()
	if err != nil {
		t.Fatalf("after removing state.json on b: %v", err)
	}
	t.Logf("state.json removed on b -> VIP on a alone after %v (script interval 1 s)", ms(at.Sub(removed)))
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	if _, err := statusVia(wctx, l, "a"); err != nil {
		t.Fatal(err)
	}
	cancel()

	if err := mon.Err(); err != nil {
		t.Fatal(err)
	}
	for _, o := range mon.Overlaps() {
		t.Errorf("the VIP was on both nodes at once for %v from %v", o.Duration(), o.From)
	}
}
