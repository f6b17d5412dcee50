//go:build !linux

package vip

import (
	"context"
	"errors"
	"net/netip"
)

func interfaceAddrs(string) ([]netip.Addr, error) {
	return nil, errors.New("reading interface addresses needs Linux netlink")
}

func changes(context.Context, string, netip.Addr) (<-chan struct{}, error) {
	return nil, errors.New("watching interface addresses needs Linux netlink")
}
