package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
)

// Net is a bare network of namespaces: any number of hosts, each with one
// address on eth0, a veth whose peer sits on br0 in a bridge namespace of
// its own. It is the lab's network without keepalived, hacheck or the fixed
// a/b/c layout, for setups of another shape (a three-node Galera cluster).
//
// Namespaces are hacheck-ID-br and hacheck-ID-<host name>; the record is
// Base/hacheck-lab-ID/lab.json in the lab's format, so ReapOrphans and Down
// remove a Net left behind by a killed test binary like any lab.
type Net struct {
	ID       string
	Dir      string
	BridgeNS string
	Hosts    []*Host

	mu     sync.Mutex
	closed bool
}

// Host is one namespace of a Net.
type Host struct {
	Name string       // letters and digits
	NS   string       // network namespace
	Addr netip.Prefix // address on eth0
	Peer string       // its veth peer's name in the bridge namespace
}

// HostSpec names a host and its address for NewNet.
type HostSpec struct {
	Name string
	Addr netip.Prefix
}

// NewNet builds the namespaces, the bridge and the addresses under base
// (empty: DefaultBase). Nothing is created in the root namespace. On error
// everything created so far is removed again. The caller must Close it.
func NewNet(ctx context.Context, base string, hosts []HostSpec) (*Net, error) {
	if base == "" {
		base = DefaultBase
	}
	if len(hosts) == 0 {
		return nil, errors.New("new net: no hosts")
	}
	var l *Lab
	var err error
	for range 5 { // a fresh id whose directory does not exist yet
		if l, err = Layout(base, randomID()); err != nil {
			return nil, fmt.Errorf("new net: %w", err)
		}
		if err = os.Mkdir(l.Dir, 0o700); err == nil || !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("new net: %w", err)
	}
	n := &Net{ID: l.ID, Dir: l.Dir, BridgeNS: l.BridgeNS}
	for _, h := range hosts {
		if !validHostName(h.Name) {
			n.Close()
			return nil, fmt.Errorf("new net: host name %q: want 1 to 6 letters or digits", h.Name)
		}
		n.Hosts = append(n.Hosts, &Host{Name: h.Name, NS: nsPrefix + n.ID + "-" + h.Name, Addr: h.Addr, Peer: "veth-" + h.Name})
	}
	if err := n.build(ctx); err != nil {
		if cerr := n.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("new net: %w", err)
	}
	return n, nil
}

func (n *Net) namespaces() []string {
	out := []string{n.BridgeNS}
	for _, h := range n.Hosts {
		out = append(out, h.NS)
	}
	return out
}

func (n *Net) build(ctx context.Context) error {
	tick, err := startTicks(os.Getpid())
	if err != nil {
		return err
	}
	l := &Lab{ID: n.ID, Dir: n.Dir, BridgeNS: n.BridgeNS, A: &Node{}, B: &Node{}, Client: &Node{}}
	if err := l.writeRecord(func(r *record) {
		r.Namespaces = n.namespaces()
		r.Owner = &procEntry{Name: "owner", PID: os.Getpid(), StartTick: tick}
	}); err != nil {
		return err
	}
	for _, ns := range n.namespaces() {
		if err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	br := n.BridgeNS
	steps := [][]string{
		{"ip", "-n", br, "link", "set", "lo", "up"},
		{"ip", "-n", br, "link", "add", bridgeName, "type", "bridge"},
		{"ip", "-n", br, "link", "set", bridgeName, "up"},
	}
	for _, h := range n.Hosts {
		steps = append(steps,
			[]string{"ip", "-n", h.NS, "link", "add", ifName, "type", "veth", "peer", "name", h.Peer, "netns", br},
			[]string{"ip", "-n", br, "link", "set", h.Peer, "master", bridgeName},
			[]string{"ip", "-n", br, "link", "set", h.Peer, "up"},
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", h.NS, "addr", "add", h.Addr.String(), "dev", ifName},
			[]string{"ip", "-n", h.NS, "link", "set", ifName, "up"},
		)
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// SetLink takes h's port on the bridge down (up=false), cutting h off from
// every other host while its own eth0 stays up, or brings it back.
func (n *Net) SetLink(ctx context.Context, h *Host, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := run(ctx, "ip", "-n", n.BridgeNS, "link", "set", h.Peer, state); err != nil {
		return fmt.Errorf("set link of %s %s: %w", h.Name, state, err)
	}
	return nil
}

// Close kills everything still running in the namespaces, deletes them and
// removes the record directory. It is idempotent.
func (n *Net) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	if err := teardown(n.Dir, n.namespaces()); err != nil {
		return fmt.Errorf("close net %s: %w", n.ID, err)
	}
	return nil
}

// validHostName: 1 to 6 letters or digits, so that "veth-" + name fits
// the 15 bytes of an interface name.
func validHostName(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// DialContext returns a dial function whose sockets live in h's namespace
// (see Lab.DialContext).
func (n *Net) DialContext(h *Host) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&Lab{}).DialContext(&Node{Name: h.Name, NS: h.NS, Addr: h.Addr})
}

// BlockMulticast stops the lab's bridge from forwarding multicast to the
// keepalived nodes, as a cloud network does: a 224.0.0.18 advert no
// longer arrives. Broadcast (ARP) and unicast still do.
func (l *Lab) BlockMulticast(ctx context.Context) error {
	for _, n := range l.Keepalived() {
		if err := run(ctx, "bridge", "-n", l.BridgeNS, "link", "set", "dev", "veth-"+n.Name, "mcast_flood", "off"); err != nil {
			return fmt.Errorf("block multicast to %s: %w", n.Name, err)
		}
	}
	return nil
}
