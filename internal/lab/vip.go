package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// HasVIP reports whether n has the VIP on any interface, read through
// netlink inside n's namespace and compared as an address.
func (l *Lab) HasVIP(n *Node) (bool, error) {
	ns, err := netns.GetFromName(n.NS)
	if err != nil {
		return false, fmt.Errorf("vip on %s: open namespace %s: %w", n.Name, n.NS, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return false, fmt.Errorf("vip on %s: netlink: %w", n.Name, err)
	}
	defer h.Close()
	return hasVIP(h)
}

func hasVIP(h *netlink.Handle) (bool, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if isVIP(a.IPNet.IP) {
			return true, nil
		}
	}
	return false, nil
}

func isVIP(ip []byte) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && a.Unmap() == VIP.Addr()
}

// VIPHolders returns the keepalived nodes (A, B, and D in a three-node
// lab) that hold the VIP right now: none, one, or (split brain) more.
func (l *Lab) VIPHolders() ([]*Node, error) {
	var holders []*Node
	for _, n := range l.Keepalived() {
		ok, err := l.HasVIP(n)
		if err != nil {
			return nil, err
		}
		if ok {
			holders = append(holders, n)
		}
	}
	return holders, nil
}

// WaitVIP waits until n holds the VIP and returns when it was first seen
// there (the subscription time when it already was). It fails when ctx ends
// first.
func (l *Lab) WaitVIP(ctx context.Context, n *Node) (time.Time, error) {
	w, err := l.WatchVIP(n)
	if err != nil {
		return time.Time{}, err
	}
	defer w.Close()
	return w.WaitAdded(ctx)
}

// VIPEvent is the VIP appearing on (Added) or leaving a node, timestamped
// when the kernel's netlink notification was read (within a fraction of a
// millisecond of the change).
type VIPEvent struct {
	Node    *Node
	Added   bool
	At      time.Time
	Initial bool // the VIP was already there when the watch began
}

// VIPWatch follows the VIP on one node through a netlink address
// subscription in the node's namespace. Create it before triggering the
// change to be timed.
type VIPWatch struct {
	node   *Node
	events chan VIPEvent
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	subErr error
}

// WatchVIP subscribes to address changes in n's namespace, then reads the
// current addresses, so no change between the two is missed: when the VIP
// is already present the first event is Added with Initial set.
func (l *Lab) WatchVIP(n *Node) (*VIPWatch, error) {
	ns, err := netns.GetFromName(n.NS)
	if err != nil {
		return nil, fmt.Errorf("watch vip on %s: open namespace %s: %w", n.Name, n.NS, err)
	}
	defer ns.Close() // the subscription socket keeps the namespace
	w := &VIPWatch{node: n, events: make(chan VIPEvent, 64), done: make(chan struct{})}
	updates := make(chan netlink.AddrUpdate, 64)
	err = netlink.AddrSubscribeWithOptions(updates, w.done, netlink.AddrSubscribeOptions{
		Namespace: &ns,
		ErrorCallback: func(err error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.subErr == nil {
				w.subErr = err
			}
		},
		ReceiveBufferSize: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("watch vip on %s: subscribe: %w", n.Name, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("watch vip on %s: netlink: %w", n.Name, err)
	}
	present, err := hasVIP(h)
	h.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("watch vip on %s: %w", n.Name, err)
	}
	if present {
		w.events <- VIPEvent{Node: n, Added: true, At: time.Now(), Initial: true}
	}
	go func() {
		defer close(w.events)
		for u := range updates {
			at := time.Now()
			if !isVIP(u.LinkAddress.IP) {
				continue
			}
			select {
			case w.events <- VIPEvent{Node: n, Added: u.NewAddr, At: at}:
			case <-w.done:
				return
			}
		}
	}()
	return w, nil
}

// Events delivers the VIP changes on the node; it is closed by Close or
// when the subscription fails (see Err).
func (w *VIPWatch) Events() <-chan VIPEvent { return w.events }

// Err returns why the subscription stopped, if it failed.
func (w *VIPWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.subErr
}

// Close ends the subscription. It is idempotent.
func (w *VIPWatch) Close() { w.once.Do(func() { close(w.done) }) }

// WaitAdded returns the time of the next event where the VIP appeared on
// the node (including an Initial one).
func (w *VIPWatch) WaitAdded(ctx context.Context) (time.Time, error) { return w.wait(ctx, true) }

// WaitRemoved returns the time of the next event where the VIP left the
// node.
func (w *VIPWatch) WaitRemoved(ctx context.Context) (time.Time, error) { return w.wait(ctx, false) }

func (w *VIPWatch) wait(ctx context.Context, added bool) (time.Time, error) {
	what := "appear on"
	if !added {
		what = "leave"
	}
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				err := w.Err()
				if err == nil {
					err = errors.New("watch closed")
				}
				return time.Time{}, fmt.Errorf("wait for vip to %s %s: %w", what, w.node.Name, err)
			}
			if ev.Added == added {
				return ev.At, nil
			}
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for vip to %s %s: %w", what, w.node.Name, ctx.Err())
		}
	}
}

// VIPMonitor follows the VIP on every keepalived node at once and keeps
// the whole timeline, so a test or benchmark can wait for a holder and
// check, afterwards, that the VIP was never on two nodes at the same time
// and never on a node while it should not have been.
type VIPMonitor struct {
	watches []*VIPWatch
	wg      sync.WaitGroup

	mu      sync.Mutex
	events  []VIPEvent
	held    map[*Node]bool
	changed chan struct{} // closed and replaced on every event
	errs    []error
	both    []Overlap
	bothAt  time.Time // start of the current overlap, zero when none
	sole    *Node     // the only holder, nil when none or both
	soleAt  time.Time // when sole became the only holder
}

// Overlap is a time when two (or more) nodes held the VIP.
type Overlap struct {
	From, To time.Time
}

// Duration is how long the overlap lasted (until now when still open).
func (o Overlap) Duration() time.Duration {
	if o.To.IsZero() {
		return time.Since(o.From)
	}
	return o.To.Sub(o.From)
}

// MonitorVIP starts watching the VIP on every keepalived node (A and B,
// and D in a three-node lab). Close it when done.
func (l *Lab) MonitorVIP() (*VIPMonitor, error) {
	m := &VIPMonitor{held: map[*Node]bool{}, changed: make(chan struct{})}
	for _, n := range l.Keepalived() {
		w, err := l.WatchVIP(n)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.watches = append(m.watches, w)
	}
	for _, w := range m.watches {
		m.wg.Go(func() {
			for ev := range w.Events() {
				m.add(ev)
			}
			if err := w.Err(); err != nil {
				m.mu.Lock()
				m.errs = append(m.errs, fmt.Errorf("vip monitor on %s: %w", w.node.Name, err))
				m.mu.Unlock()
			}
		})
	}
	return m, nil
}

func (m *VIPMonitor) add(ev VIPEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, ev)
	m.held[ev.Node] = ev.Added
	n := 0
	for _, h := range m.held {
		if h {
			n++
		}
	}
	switch {
	case n > 1 && m.bothAt.IsZero():
		m.bothAt = ev.At
	case n <= 1 && !m.bothAt.IsZero():
		m.both = append(m.both, Overlap{From: m.bothAt, To: ev.At})
		m.bothAt = time.Time{}
	}
	var sole *Node
	if hs := m.holdersLocked(); len(hs) == 1 {
		sole = hs[0]
	}
	if sole != m.sole {
		m.sole, m.soleAt = sole, ev.At
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// Holders returns the nodes that hold the VIP according to the events
// seen so far.
func (m *VIPMonitor) Holders() []*Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holdersLocked()
}

func (m *VIPMonitor) holdersLocked() []*Node {
	var hs []*Node
	for _, w := range m.watches {
		if m.held[w.node] {
			hs = append(hs, w.node)
		}
	}
	return hs
}

// WaitHolder waits until n, and only n, holds the VIP and returns when that
// became true (the time of the event that made it so).
func (m *VIPMonitor) WaitHolder(ctx context.Context, n *Node) (time.Time, error) {
	for {
		m.mu.Lock()
		hs := m.holdersLocked()
		var at time.Time
		if m.sole == n {
			at = m.soleAt
		}
		ch := m.changed
		m.mu.Unlock()
		if !at.IsZero() {
			return at, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			names := make([]string, len(hs))
			for i, h := range hs {
				names[i] = h.Name
			}
			return time.Time{}, fmt.Errorf("wait for the vip on %s alone (held by %v): %w", n.Name, names, ctx.Err())
		}
	}
}

// Events returns a copy of every event so far, in the order received.
func (m *VIPMonitor) Events() []VIPEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]VIPEvent(nil), m.events...)
}

// AddedSince returns the times the VIP appeared on n after t (not counting
// an Initial event).
func (m *VIPMonitor) AddedSince(n *Node, t time.Time) []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []time.Time
	for _, ev := range m.events {
		if ev.Node == n && ev.Added && !ev.Initial && ev.At.After(t) {
			out = append(out, ev.At)
		}
	}
	return out
}

// Overlaps returns every time two or more nodes held the VIP, including
// one still open.
func (m *VIPMonitor) Overlaps() []Overlap {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := append([]Overlap(nil), m.both...)
	if !m.bothAt.IsZero() {
		out = append(out, Overlap{From: m.bothAt})
	}
	return out
}

// Err reports a failed subscription: the timeline is incomplete after it.
func (m *VIPMonitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.errs...)
}

// Close stops the watches and waits for their readers.
func (m *VIPMonitor) Close() {
	for _, w := range m.watches {
		w.Close()
	}
	m.wg.Wait()
}
