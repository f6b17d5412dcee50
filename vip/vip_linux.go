//go:build linux

package vip

import (
	"context"
	"net/netip"

	"github.com/vishvananda/netlink"
)

func interfaceAddrs(ifname string) ([]netip.Addr, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, err
	}
	list, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip)
		}
	}
	return out, nil
}

// changes signals on the returned channel (coalesced: at most one pending)
// whenever addr is added to or removed from ifname, until ctx ends. Only
// reads: a netlink subscription needs no privilege.
func changes(ctx context.Context, ifname string, addr netip.Addr) (<-chan struct{}, error) {
	link, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, err
	}
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{ReceiveBufferSize: 1 << 20}); err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	index, want := link.Attrs().Index, addr.Unmap()
	go func() {
		<-ctx.Done()
		close(done)
	}()
	go func() {
		defer close(out)
		for u := range updates {
			ip, ok := netip.AddrFromSlice(u.LinkAddress.IP)
			if !ok || u.LinkIndex != index || ip.Unmap() != want {
				continue
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}
