package answer

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"
)

// maxDepartureWait bounds how long Release waits for the VIP to leave this
// node after the flip (keepalived moves it within milliseconds; if it has
// not after this, the lease ends anyway).
const maxDepartureWait = 5 * time.Second

// Step is the drain step that begins the lease: it runs after the fence
// and the catch-up, just before the flip, while this node still holds the
// VIP (the route then changes nothing). It never fails the drain: without
// the capability it says so and the drain goes on as it would have.
type Step struct {
	Dir       string // state directory (the lease file)
	Addr      netip.Addr
	Interface string
	// Hold is how long the lease lasts once the VIP has left this node:
	// long enough for the new holder's gratuitous ARPs to reach the clients.
	Hold time.Duration
	// Held reports whether this node holds the VIP now.
	Held func() (bool, error)

	mu    sync.Mutex
	lease *Lease
}

// Name is the step's name in the drain's output and record.
func (s *Step) Name() string { return "answer" }

// Describe says what Do would do.
func (s *Step) Describe() string {
	return fmt.Sprintf("answer TCP to %s on this node's own stack for %s after the VIP has left it (a client with a stale ARP entry is refused at once instead of waiting for its SYN retransmit)", s.Addr, s.Hold)
}

// Do begins the lease, on a node that holds the VIP (draining a node
// without it moves no VIP: there is nothing to answer for).
func (s *Step) Do(_ context.Context, out io.Writer) error {
	switch held, err := s.Held(); {
	case err != nil:
		fmt.Fprintf(out, "  not answering for %s: whether this node holds it is unknown (%v)\n", s.Addr, err)
		return nil
	case !held:
		fmt.Fprintf(out, "  not answering for %s: this node does not hold it\n", s.Addr)
		return nil
	}
	l, err := Begin(s.Dir, s.Addr, s.Interface)
	if err != nil {
		fmt.Fprintf(out, "  not answering for %s after the move (%v): clients with a stale ARP entry wait for their SYN retransmit\n", s.Addr, err)
		return nil
	}
	s.mu.Lock()
	s.lease = &l
	s.mu.Unlock()
	fmt.Fprintf(out, "  %s stays answered by this node's stack for %s after it leaves\n", s.Addr, s.Hold)
	return nil
}

// Undo ends the lease (the drain was refused: the VIP stays here).
func (s *Step) Undo(context.Context, io.Writer) error { return s.end() }

func (s *Step) end() error {
	s.mu.Lock()
	l := s.lease
	s.lease = nil
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	return End(s.Dir, *l)
}

// Active reports whether a lease is running.
func (s *Step) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lease != nil
}

// Release, after the flip, waits for the VIP to leave this node (at most
// maxDepartureWait), then Hold, then ends the lease. A cancelled ctx ends
// it at once.
func (s *Step) Release(ctx context.Context) error {
	if !s.Active() {
		return nil
	}
	deadline := time.Now().Add(maxDepartureWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if held, err := s.Held(); err != nil || !held {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t := time.NewTimer(s.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return s.end()
}
