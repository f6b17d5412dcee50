//go:build !linux

package vip

import (
	"errors"
	"net/netip"
)

func interfaceAddrs(string) ([]netip.Addr, error) {
	return nil, errors.New("reading interface addresses needs Linux netlink")
}
