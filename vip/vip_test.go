package vip

import (
	"net/netip"
	"testing"
)

func TestContainsComparesAddresses(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("::ffff:192.0.2.20")}
	cases := map[string]bool{
		"192.0.2.10": true,
		"192.0.2.1":  false, // a substring of 192.0.2.10
		"192.0.2.20": true,  // the same address, IPv4-mapped
		"192.0.2.2":  false,
	}
	for a, want := range cases {
		if got := contains(addrs, netip.MustParseAddr(a)); got != want {
			t.Errorf("contains %s = %v, want %v", a, got, want)
		}
	}
}

func TestQueryLoopback(t *testing.T) {
	s := Query("lo", netip.MustParsePrefix("127.0.0.1/8"))
	if !s.Held || s.Error != "" {
		t.Fatalf("127.0.0.1 on lo: %+v", s)
	}
	s = Query("lo", netip.MustParsePrefix("192.0.2.99/24"))
	if s.Held {
		t.Fatalf("192.0.2.99 reported on lo: %+v", s)
	}
	s = Query("no-such-if0", netip.MustParsePrefix("192.0.2.99/24"))
	if s.Held || s.Error == "" {
		t.Fatalf("missing interface: %+v", s)
	}
}
