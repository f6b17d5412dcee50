package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

// unicastLab builds a lab from examples/keepalived-unicast.conf, each node
// sending its adverts to the other's address.
func unicastLab(t *testing.T) *lab.Lab {
	t.Helper()
	example, err := lab.RepoFile("examples/keepalived-unicast.conf")
	if err != nil {
		t.Fatal(err)
	}
	return labtest.New(t, lab.Config{
		Hacheck:           hacheckBinary(t),
		KeepalivedExample: example,
		KeepalivedParams: func(n *lab.Node) map[string]string {
			self, peer := lab.AddrA, lab.AddrB
			if n.Name == "b" {
				self, peer = lab.AddrB, lab.AddrA
			}
			return map[string]string{"UNICAST_SRC_IP": self.Addr().String(), "UNICAST_PEER": peer.Addr().String()}
		},
	})
}

// blockMulticast stops the lab's bridge from forwarding multicast to the
// nodes (lab.BlockMulticast).
func blockMulticast(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	if err := l.BlockMulticast(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestMulticastBlockedSplitsBrain is the control for
// TestUnicastDrainMovesVIP: with multicast blocked, the multicast example's
// nodes no longer hear each other and B takes the VIP too. So a pass of the
// unicast test is the work of unicast_peer, not of adverts that got through.
func TestMulticastBlockedSplitsBrain(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: hacheckBinary(t)})
	ctx := labtest.Context(t, time.Minute)
	blockMulticast(t, ctx, l)
	for _, n := range l.Pair() {
		mustHacheck(t, ctx, l, n, "undrain", "--reason", "e2e start")
	}
	if _, err := l.StartKeepalived(ctx, l.A); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := l.WaitVIP(wctx, l.A); err != nil {
		t.Fatal(err)
	}
	if _, err := l.StartKeepalived(ctx, l.B); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.WaitForLog(wctx, l.B.KeepalivedLog, 0, "Entering MASTER STATE"); err != nil {
		t.Fatalf("with multicast blocked b never became MASTER next to a (is the block real?): %v", err)
	}
	if _, err := l.WaitVIP(wctx, l.B); err != nil {
		t.Fatal(err)
	}
	hs, err := l.VIPHolders()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("with multicast blocked the VIP is on %v, want both (the control's point)", names(hs))
	}
	t.Log("multicast blocked: the multicast example puts the VIP on both nodes")
}

// TestUnicastDrainMovesVIP runs examples/keepalived-unicast.conf on a lab
// whose bridge carries no multicast: A holds the VIP alone, `hacheck drain`
// on A moves it to B, undrain does not move it back (nopreempt), and the
// VIP is never on both nodes.
func TestUnicastDrainMovesVIP(t *testing.T) {
	l := unicastLab(t)
	ctx := labtest.Context(t, 2*time.Minute)
	blockMulticast(t, ctx, l)
	for _, n := range l.Pair() {
		mustHacheck(t, ctx, l, n, "undrain", "--reason", "e2e start")
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

	drained := time.Now()
	out := mustHacheck(t, ctx, l, l.A, "drain", "--reason", "e2e unicast")
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	at, err := mon.WaitHolder(wctx, l.B)
	cancel()
	if err != nil {
		t.Fatalf("after hacheck drain on a (%s): %v", out, err)
	}
	t.Logf("unicast VRRP: hacheck drain on a -> VIP on b alone after %v", ms(at.Sub(drained)))
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	if _, err := statusVia(wctx, l, "b"); err != nil {
		t.Fatal(err)
	}
	cancel()

	off := lab.LogSize(l.A.KeepalivedLog)
	mustHacheck(t, ctx, l, l.A, "undrain", "--reason", "e2e unicast")
	wctx, cancel = context.WithTimeout(ctx, 10*time.Second)
	if _, err := lab.WaitForLog(wctx, l.A.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(4500 * time.Millisecond) // preempt would have moved it after about 3.4 s
	if hs := mon.Holders(); len(hs) != 1 || hs[0] != l.B {
		t.Fatalf("after undrain of a the VIP is on %v, want b alone", names(hs))
	}
	if err := mon.Err(); err != nil {
		t.Fatal(err)
	}
	for _, o := range mon.Overlaps() {
		t.Errorf("the VIP was on both nodes at once for %v from %v", o.Duration(), o.From)
	}
}
