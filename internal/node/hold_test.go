package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
)

// A hold is confirmed on the track file alone where keepalived's
// transitions are not recorded; where they are, only once keepalived
// reports FAULT, and refused (the hold dropped) when it does not in time.
func TestHoldConfirmation(t *testing.T) {
	n := build(t, load(t, "keepalived: {config: ''}\n"))
	if _, _, err := n.store.Set(state.Change{To: state.Up}); err != nil {
		t.Fatal(err)
	}
	req := peer.HoldRequest{For: "node-c", By: "node-b"}
	ctx := context.Background()

	hr, err := n.Hold(ctx, req, time.Minute)
	if err != nil || hr.Outcome != "held" || !strings.Contains(hr.Confirmed, "track file written (no keepalived transition recorded") {
		t.Fatalf("without transitions: %+v %v", hr, err)
	}
	if _, err := n.Release(req); err != nil {
		t.Fatal(err)
	}

	// keepalived is wired to notify (a transition is recorded) but does not go FAULT.
	if err := n.store.SaveTransition(state.Transition{Kind: "INSTANCE", Instance: "VI_1", State: "BACKUP", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := n.Hold(ctx, req, time.Minute); err == nil || !strings.Contains(err.Error(), "keepalived did not report FAULT") {
		t.Fatalf("no FAULT: %v", err)
	}
	if took := time.Since(start); took < holdConfirm || took > holdConfirm+time.Second {
		t.Errorf("gave up after %s, want about %s", took, holdConfirm)
	}
	if s, _ := n.store.Load(); s.Hold != nil || !s.Eligible() {
		t.Fatalf("a refused hold left %+v", s.Hold)
	}

	// keepalived reports FAULT shortly after the track file changed.
	go func() {
		time.Sleep(100 * time.Millisecond)
		n.store.SaveTransition(state.Transition{Kind: "INSTANCE", Instance: "VI_1", State: "FAULT", At: time.Now()})
	}()
	hr, err = n.Hold(ctx, req, time.Minute)
	if err != nil || !strings.Contains(hr.Confirmed, "keepalived reported FAULT") {
		t.Fatalf("FAULT: %+v %v", hr, err)
	}

	// Never on the successor itself.
	if _, err := n.Hold(ctx, peer.HoldRequest{For: "a", By: "node-b"}, time.Minute); err == nil || !strings.Contains(err.Error(), "successor") {
		t.Errorf("hold of the successor: %v", err)
	}
}

// A hold whose lease has ended is cleared by the next check, which
// rewrites the track file: never stuck ineligible.
func TestCheckClearsAnExpiredHold(t *testing.T) {
	n := build(t, load(t, "keepalived: {config: ''}\n"))
	if _, _, err := n.store.Set(state.Change{To: state.Up}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.store.SetHold(state.Hold{For: "node-c", By: "node-b", Since: time.Now(), Until: time.Now().Add(100 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if rep := n.Evaluate(context.Background(), false); rep.Healthy || !strings.Contains(rep.Reason, "held for move to node-c") {
		t.Fatalf("while held: %v %s", rep.Healthy, rep.Reason)
	}
	time.Sleep(150 * time.Millisecond)
	if rep := n.Evaluate(context.Background(), false); !rep.Healthy {
		t.Fatalf("after the lease: %s", rep.Reason)
	}
	if s, _ := n.store.Load(); s.Hold != nil {
		t.Errorf("expired hold still recorded: %+v", s.Hold)
	}
	if b, _ := readTrack(n.store); b != "0\n" {
		t.Errorf("track file %q after the lease", b)
	}
}
