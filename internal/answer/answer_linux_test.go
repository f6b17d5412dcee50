//go:build linux

package answer_test

import (
	"context"
	"errors"
	"fmt"
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

// TestAnswerLeaseOwnership: a lease ends only itself (a later drain's lease,
// begun after an undrain cleared the first, survives the first one's End),
// an operator's ARP setting made during a lease is kept, and ClearDead ends
// only a lease whose process is gone.
func TestAnswerLeaseOwnership(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: "/bin/true"})
	ctx := labtest.Context(t, 60*time.Second)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	routed := func() bool {
		return strings.Contains(run("-n", l.A.NS, "route", "show", "table", "local", lab.VIP.Addr().String()+"/32"), "metric 26723")
	}
	sysctl := func(key, set string) string {
		t.Helper()
		p := "/proc/sys/net/ipv4/conf/eth0/" + key
		var b []byte
		err := l.Do(l.A, func() (err error) {
			if set != "" {
				if err := os.WriteFile(p, []byte(set), 0o644); err != nil {
					return err
				}
			}
			b, err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	in := func(f func() error) {
		t.Helper()
		if err := l.Do(l.A, f); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	run("-n", l.A.NS, "addr", "add", lab.VIP.String(), "dev", "eth0")
	ann0 := sysctl("arp_announce", "")

	var first, second answer.Lease
	in(func() (err error) { first, err = answer.Begin(dir, lab.VIP.Addr(), "eth0"); return err })
	in(func() (err error) { _, _, err = answer.Clear(dir); return err }) // an undrain
	in(func() (err error) { second, err = answer.Begin(dir, lab.VIP.Addr(), "eth0"); return err })
	in(func() error { return answer.End(dir, first) }) // the first drain's late release
	if got, found, err := answer.Load(dir); err != nil || !found || got.PID != second.PID || !got.Started.Equal(second.Started) {
		t.Fatalf("after the first lease's End the lease file is %+v (found %v, %v), want the second lease", got, found, err)
	}
	if !routed() || sysctl("arp_ignore", "") != "1" {
		t.Fatal("the first lease's End removed the second lease's route or ARP setting")
	}

	sysctl("arp_ignore", "8") // an operator's change during the lease
	in(func() error { return answer.End(dir, second) })
	if routed() {
		t.Fatal("route still there after the second lease's End")
	}
	if ign, ann := sysctl("arp_ignore", ""), sysctl("arp_announce", ""); ign != "8" || ann != ann0 {
		t.Fatalf("after End arp_ignore %s arp_announce %s, want the operator's 8 kept and %s put back", ign, ann, ann0)
	}
	sysctl("arp_ignore", "0")

	// ClearDead leaves a live holder's lease alone and ends a dead one's.
	var live answer.Lease
	in(func() (err error) { live, err = answer.Begin(dir, lab.VIP.Addr(), "eth0"); return err })
	var found bool
	in(func() (err error) { _, found, err = answer.ClearDead(dir); return err })
	if found || !routed() {
		t.Fatalf("ClearDead ended the lease of a running process (found %v)", found)
	}
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	orphan := live
	orphan.PID = dead.Process.Pid
	if err := os.WriteFile(filepath.Join(dir, answer.LeaseName), []byte(fmt.Sprintf(`{"pid":%d,"started":%q,"address":%q,"interface":"eth0","arp_ignore":%d,"arp_announce":%d}`,
		orphan.PID, orphan.Started.Format(time.RFC3339Nano), orphan.Addr, orphan.ARPIgnore, orphan.ARPAnnounce)), 0o600); err != nil {
		t.Fatal(err)
	}
	in(func() (err error) { _, found, err = answer.ClearDead(dir); return err })
	if !found || routed() {
		t.Fatalf("ClearDead left the lease of a process that is gone (found %v, routed %v)", found, routed())
	}
}
