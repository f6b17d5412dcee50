//go:build linux

package answer_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/answer"
	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

// TestAnswerOnTheLab gives the VIP to a by hand, takes it away again (as
// keepalived does on FAULT) while the client's ARP entry still names a, and
// dials the VIP from the client: without a lease the SYN is dropped and the
// dial times out; with one, a's stack refuses it at once. With the VIP on no
// node, the client's ARP request for it goes unanswered (a does not claim
// it); after End everything is as before.
func TestAnswerOnTheLab(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: "/bin/true"})
	ctx := labtest.Context(t, 60*time.Second)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	vipA := func(add bool) {
		op := "del"
		if add {
			op = "add"
		}
		ip("-n", l.A.NS, "addr", op, lab.VIP.String(), "dev", "eth0")
	}
	macA, err := l.MAC(l.A)
	if err != nil {
		t.Fatal(err)
	}
	pinToA := func() {
		ip("-n", l.Client.NS, "neigh", "replace", lab.VIP.Addr().String(), "lladdr", macA.String(), "dev", "eth0", "nud", "permanent")
	}
	dial := func(timeout time.Duration) error {
		dctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c, err := l.DialContext(l.Client)(dctx, "tcp", net.JoinHostPort(lab.VIP.Addr().String(), "9"))
		if err == nil {
			c.Close()
		}
		return err
	}
	dir := t.TempDir()
	arp := func() (string, string) {
		t.Helper()
		var ign, ann []byte
		err := l.Do(l.A, func() (err error) {
			if ign, err = os.ReadFile("/proc/sys/net/ipv4/conf/eth0/arp_ignore"); err != nil {
				return err
			}
			ann, err = os.ReadFile("/proc/sys/net/ipv4/conf/eth0/arp_announce")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(ign)), strings.TrimSpace(string(ann))
	}
	ign0, ann0 := arp()

	// Without a lease: the SYN to a departed VIP is dropped.
	vipA(true)
	vipA(false)
	pinToA()
	if err := dial(1500 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("dial without a lease: %v, want a timeout (the SYN dropped)", err)
	}

	// With a lease begun while a holds the VIP.
	vipA(true)
	var lease answer.Lease
	if err := l.Do(l.A, func() (err error) { lease, err = answer.Begin(dir, lab.VIP.Addr(), "eth0"); return err }); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, answer.LeaseName)); err != nil {
		t.Fatalf("lease file: %v", err)
	}
	if ign, ann := arp(); ign != "1" || ann != "2" {
		t.Fatalf("during the lease arp_ignore %s arp_announce %s, want 1 and 2", ign, ann)
	}
	vipA(false)
	pinToA()
	if err := dial(1500 * time.Millisecond); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during the lease: %v, want connection refused by a", err)
	}
	// Nobody holds the VIP: an ARP request for it must go unanswered.
	ip("-n", l.Client.NS, "neigh", "del", lab.VIP.Addr().String(), "dev", "eth0")
	if err := dial(5 * time.Second); !errors.Is(err, syscall.EHOSTUNREACH) && !isTimeout(err) {
		t.Fatalf("dial with the VIP on no node: %v, want no route to host (a must not answer ARP for it)", err)
	}

	// A second process clears the lease (the holder was killed).
	var found bool
	if err := l.Do(l.A, func() (err error) { _, found, err = answer.Clear(dir); return err }); err != nil || !found {
		t.Fatalf("clear: found %v, %v", found, err)
	}
	if ign, ann := arp(); ign != ign0 || ann != ann0 {
		t.Fatalf("after the lease arp_ignore %s arp_announce %s, want %s and %s as before", ign, ann, ign0, ann0)
	}
	if _, err := os.Stat(filepath.Join(dir, answer.LeaseName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lease file after clear: %v", err)
	}
	pinToA()
	if err := dial(1500 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) && !isTimeout(err) {
		t.Fatalf("dial after the lease: %v, want a timeout again", err)
	}
	if err := l.Do(l.A, func() error { return answer.End(dir, lease) }); err != nil {
		t.Fatalf("end after clear (idempotent): %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
