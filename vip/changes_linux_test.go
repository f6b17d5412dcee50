//go:build linux

package vip_test

import (
	"os/exec"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
	"github.com/hacheck/hacheck/vip"
)

// Changes signals when the VIP is added to or removed from the watched
// interface, and not for another address on it.
func TestChangesOnTheLab(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: "/bin/true"})
	ctx := labtest.Context(t, 30*time.Second)
	var ch <-chan struct{}
	if err := l.Do(l.A, func() (err error) { ch, err = vip.Changes(ctx, "eth0", lab.VIP.Addr()); return err }); err != nil {
		t.Fatal(err)
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "ip", append([]string{"-n", l.A.NS, "addr"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip addr %v: %v: %s", args, err, out)
		}
	}
	want := func(signal bool, what string) {
		t.Helper()
		select {
		case <-ch:
			if !signal {
				t.Fatalf("%s: signalled", what)
			}
		case <-time.After(300 * time.Millisecond):
			if signal {
				t.Fatalf("%s: no signal", what)
			}
		}
	}
	ip("add", "192.0.2.99/24", "dev", "eth0")
	want(false, "another address added")
	ip("add", lab.VIP.String(), "dev", "eth0")
	want(true, "VIP added")
	ip("del", lab.VIP.String(), "dev", "eth0")
	want(true, "VIP removed")
}
