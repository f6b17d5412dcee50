//go:build linux

package vip

import (
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
