// Package answer makes a node that is giving its VIP away answer, for a
// short, bounded time, the TCP connection attempts that still reach it.
//
// Between keepalived removing the VIP from the old holder and the new
// holder's gratuitous ARP reaching a client (tens of milliseconds), a client
// whose ARP entry still names the old holder sends its SYN there. Without
// this package the old holder's kernel drops it silently (the address is no
// longer local and it does not forward), and the client waits for its SYN
// retransmit (1 s) or its connect timeout. With it, the old holder's own
// stack answers: a port nobody listens on gets an immediate RST; a server
// bound to 0.0.0.0 (the fenced, read-only MariaDB of a drain) accepts and
// refuses writes. Either way the client retries at once and reaches the new
// holder as soon as the gratuitous ARP lands.
//
// How: a route "local VIP/32 dev lo" in the local table (metric Metric,
// proto static), so that the address is still this node's own for incoming
// packets and for the source of the replies. So that this node does not
// answer ARP for the address (which would pull clients back to it), the VIP
// interface's arp_ignore is raised to 1 (answer ARP only for addresses
// configured on that interface) and arp_announce to 2 (never announce an
// address that is not configured on it) for as long as the route is there;
// the prior values are written to the lease file first and restored at the
// end. Needs CAP_NET_ADMIN; without it Begin fails and the caller goes on
// without (the move is then as it was: correct, only slower for some
// clients).
//
// Safety: Begin is called only after the database is fenced, and the lease
// ends a few seconds after the VIP left (or when the drain is undone, or by
// the next undrain if the process that held it was killed).
package answer

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/hacheck/hacheck/internal/state"
)

// LeaseName is the lease file in the state directory: written before the
// route and the ARP settings change, removed after they are put back.
const LeaseName = "answer.lease.json"

// Metric is the metric of the route this package adds (the kernel's own
// local route for the VIP has metric 0, so the two never collide).
const Metric = 26723

// Lease is the content of the lease file: what Begin changed, so that End
// or Clear (from another process) can put it back.
type Lease struct {
	PID       int        `json:"pid"`
	Started   time.Time  `json:"started"`
	Addr      netip.Addr `json:"address"`
	Interface string     `json:"interface"`
	// The interface's arp_ignore and arp_announce before Begin.
	ARPIgnore   int `json:"arp_ignore"`
	ARPAnnounce int `json:"arp_announce"`
}

// ErrUnsupported is returned by Begin where the platform cannot do it.
var ErrUnsupported = errors.New("answering for a departed VIP is supported on Linux only")

// Begin writes the lease file in dir, then adds the route and raises the
// ARP settings of iface. On failure whatever was changed is put back.
func Begin(dir string, addr netip.Addr, iface string) (l Lease, err error) {
	if !addr.Is4() {
		return l, fmt.Errorf("answer for %s: only IPv4 VIPs are supported", addr)
	}
	// A lease left by a killed holder first: its file has the settings
	// from before it, which a new lease must not overwrite.
	if _, _, err := Clear(dir); err != nil {
		return l, err
	}
	ign, ann, err := readARP(iface)
	if err != nil {
		return l, err
	}
	l = Lease{PID: os.Getpid(), Started: time.Now().UTC(), Addr: addr, Interface: iface, ARPIgnore: ign, ARPAnnounce: ann}
	// Without fsync: the route and the ARP settings it records do not
	// survive a reboot either; a killed holder's lease is read back whole.
	if err := state.ReplaceJSON(leasePath(dir), l); err != nil {
		return l, fmt.Errorf("answer for %s: write %s: %w", addr, LeaseName, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, End(dir, l))
		}
	}()
	upIgn, upAnn := l.raised()
	if err := writeARP(iface, upIgn, upAnn); err != nil {
		return l, err
	}
	if err := addRoute(addr); err != nil {
		return l, fmt.Errorf("answer for %s: add route local %s/32 dev lo table local metric %d: %w", addr, addr, Metric, err)
	}
	return l, nil
}

// raised is what Begin sets the ARP settings to, over the prior values.
func (l Lease) raised() (ignore, announce int) { return max(l.ARPIgnore, 1), max(l.ARPAnnounce, 2) }

// same reports whether two leases are the same one (a lease file names
// its holder and start).
func (l Lease) same(o Lease) bool { return l.PID == o.PID && l.Started.Equal(o.Started) }

// End removes the route, restores the ARP settings and removes the lease
// file; it is idempotent. It changes nothing when the lease file on disk
// is another lease (a later drain's, begun after an undrain cleared this
// one): that lease owns the route and the settings now. The ARP settings
// are put back only while they are still what Begin set (an operator's
// change meanwhile is kept), and an interface that is gone has nothing to
// put back.
func End(dir string, l Lease) error {
	if cur, found, err := Load(dir); err != nil {
		return fmt.Errorf("answer for %s: %w", l.Addr, err)
	} else if !found || !cur.same(l) {
		return nil
	}
	var errs []error
	if err := delRoute(l.Addr); err != nil {
		errs = append(errs, fmt.Errorf("answer for %s: delete route: %w", l.Addr, err))
	}
	wantIgn, wantAnn := l.raised()
	switch ign, ann, err := readARP(l.Interface); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		errs = append(errs, err)
	default:
		// Each setting goes back only while it is what Begin set.
		if ign == wantIgn {
			ign = l.ARPIgnore
		}
		if ann == wantAnn {
			ann = l.ARPAnnounce
		}
		if err := writeARP(l.Interface, ign, ann); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.Remove(leasePath(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("answer for %s: remove %s: %w", l.Addr, LeaseName, err)
	}
	return nil
}

// Clear ends a lease left in dir (its holder was killed, or still runs and
// is overtaken by an undrain). found is false when there was none.
func Clear(dir string) (l Lease, found bool, err error) {
	l, found, err = Load(dir)
	if err != nil || !found {
		return l, false, err
	}
	return l, true, End(dir, l)
}

// ClearDead ends a lease left in dir by a process that is gone (a drain
// killed during its lease); a running holder's lease is left to it.
func ClearDead(dir string) (l Lease, found bool, err error) {
	l, found, err = Load(dir)
	if err != nil || !found || processAlive(l.PID) {
		return l, false, err
	}
	return l, true, End(dir, l)
}

func leasePath(dir string) string { return filepath.Join(dir, LeaseName) }

// Load reads the lease file in dir; found is false when there is none.
func Load(dir string) (l Lease, found bool, err error) {
	// Written without fsync: empty after a power loss is no lease (the
	// route and the ARP settings did not survive the reboot either).
	found, err = state.LoadMark(leasePath(dir), &l)
	return l, found, err
}
