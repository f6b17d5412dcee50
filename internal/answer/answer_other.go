//go:build !linux

package answer

import "net/netip"

func addRoute(netip.Addr) error        { return ErrUnsupported }
func delRoute(netip.Addr) error        { return nil }
func readARP(string) (int, int, error) { return 0, 0, ErrUnsupported }
func writeARP(string, int, int) error  { return nil }

// NetAdmin reports whether this process may change routes: never here.
func NetAdmin() bool { return false }

func processAlive(int) bool { return true }
