// Package vip answers one question: does this node hold the virtual IP?
// It only reads; keepalived adds and removes the address.
package vip

import (
	"context"
	"fmt"
	"net/netip"
)

// Status is what a node knows about the VIP.
type Status struct {
	Address   netip.Prefix `json:"address"`
	Interface string       `json:"interface"`
	Held      bool         `json:"held"`
	Error     string       `json:"error,omitempty"`
}

// Held reports whether addr is assigned to the interface named ifname.
// Addresses are compared as addresses (192.0.2.1 never matches
// 192.0.2.10); the prefix length is ignored, as keepalived may add the VIP
// as /32.
func Held(ifname string, addr netip.Addr) (bool, error) {
	addrs, err := interfaceAddrs(ifname)
	if err != nil {
		return false, fmt.Errorf("list addresses of %s: %w", ifname, err)
	}
	return contains(addrs, addr), nil
}

func contains(addrs []netip.Addr, want netip.Addr) bool {
	want = want.Unmap()
	for _, a := range addrs {
		if a.Unmap() == want {
			return true
		}
	}
	return false
}

// Changes signals (coalesced: at most one signal pending) each time addr
// is added to or removed from the interface ifname, so a caller can look
// again at once instead of at its next poll; the channel is closed when
// ctx ends or the subscription fails. It only reads (a netlink
// subscription), like the rest of this package.
func Changes(ctx context.Context, ifname string, addr netip.Addr) (<-chan struct{}, error) {
	c, err := changes(ctx, ifname, addr)
	if err != nil {
		return nil, fmt.Errorf("watch addresses of %s: %w", ifname, err)
	}
	return c, nil
}

// Query fills a Status for the configured VIP; errors go into Status.Error
// (a VIP that cannot be read is reported as not held).
func Query(ifname string, prefix netip.Prefix) Status {
	s := Status{Address: prefix, Interface: ifname}
	held, err := Held(ifname, prefix.Addr())
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Held = held
	return s
}
