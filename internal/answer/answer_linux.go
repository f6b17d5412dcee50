//go:build linux

package answer

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func route(addr netip.Addr) (*netlink.Route, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("find lo: %w", err)
	}
	return &netlink.Route{
		LinkIndex: lo.Attrs().Index,
		Dst:       &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(32, 32)},
		Table:     unix.RT_TABLE_LOCAL,
		Type:      unix.RTN_LOCAL,
		Scope:     netlink.SCOPE_HOST,
		Protocol:  unix.RTPROT_STATIC,
		Priority:  Metric,
	}, nil
}

func addRoute(addr netip.Addr) error {
	r, err := route(addr)
	if err != nil {
		return err
	}
	return netlink.RouteReplace(r)
}

func delRoute(addr netip.Addr) error {
	r, err := route(addr)
	if err != nil {
		return err
	}
	if err := netlink.RouteDel(r); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}

func arpPath(iface, key string) string { return "/proc/sys/net/ipv4/conf/" + iface + "/" + key }

func readARP(iface string) (ignore, announce int, err error) {
	read := func(key string) (int, error) {
		b, err := os.ReadFile(arpPath(iface, key))
		if err != nil {
			return 0, fmt.Errorf("read %s of %s: %w", key, iface, err)
		}
		return strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if ignore, err = read("arp_ignore"); err != nil {
		return 0, 0, err
	}
	announce, err = read("arp_announce")
	return ignore, announce, err
}

func writeARP(iface string, ignore, announce int) error {
	for key, v := range map[string]int{"arp_ignore": ignore, "arp_announce": announce} {
		if err := os.WriteFile(arpPath(iface, key), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			return fmt.Errorf("set %s of %s to %d: %w", key, iface, v, err)
		}
	}
	return nil
}

// NetAdmin reports whether this process holds CAP_NET_ADMIN (what Begin
// needs), from /proc/self/status.
func NetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_NET_ADMIN) != 0
		}
	}
	return false
}

// processAlive reports whether pid exists (EPERM: it does, as another
// user's).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
