package lab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ARPEvent is one ARP packet about the VIP (its sender address is the
// VIP) seen on a node's eth0: a gratuitous ARP or a reply.
type ARPEvent struct {
	At     time.Time
	Sender net.HardwareAddr // the MAC the packet says holds the VIP
	Op     uint16           // 1 request, 2 reply
}

// ARPWatch records the ARP packets about the VIP that reach a node.
type ARPWatch struct {
	fd     int
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	events []ARPEvent
	err    error
}

// WatchARP opens a packet socket on n's eth0 (in n's namespace) and records
// every ARP packet whose sender address is the VIP: what a client there
// learns about who holds it, and when.
func (l *Lab) WatchARP(n *Node) (*ARPWatch, error) {
	fd, err := inNamespace(n, func() (int, error) {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return -1, err
		}
		proto := int(htons(unix.ETH_P_ARP))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: link.Attrs().Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	})
	if err != nil {
		return nil, fmt.Errorf("watch arp on %s: %w", n.Name, err)
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch arp on %s: %w", n.Name, err)
	}
	w := &ARPWatch{fd: fd, done: make(chan struct{})}
	w.wg.Go(w.read)
	return w, nil
}

func (w *ARPWatch) read() {
	buf := make([]byte, 1500)
	vip := VIP.Addr().As4()
	for {
		select {
		case <-w.done:
			return
		default:
		}
		nr, _, err := unix.Recvfrom(w.fd, buf, 0)
		at := time.Now()
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		// htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
		p := buf[:nr]
		if len(p) < 28 || p[4] != 6 || p[5] != 4 || !bytes.Equal(p[14:18], vip[:]) {
			continue
		}
		ev := ARPEvent{At: at, Sender: net.HardwareAddr(bytes.Clone(p[8:14])), Op: binary.BigEndian.Uint16(p[6:8])}
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
	}
}

// FirstFrom is the first ARP packet after t that names mac as the VIP's holder.
func (w *ARPWatch) FirstFrom(mac net.HardwareAddr, t time.Time) (ARPEvent, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.events {
		if e.At.After(t) && bytes.Equal(e.Sender, mac) {
			return e, true
		}
	}
	return ARPEvent{}, false
}

// Err is why the watch stopped reading, if it failed.
func (w *ARPWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close stops the watch and closes its socket.
func (w *ARPWatch) Close() {
	select {
	case <-w.done:
		return
	default:
	}
	close(w.done)
	w.wg.Wait()
	unix.Close(w.fd)
}

// MAC is the hardware address of n's eth0.
func (l *Lab) MAC(n *Node) (net.HardwareAddr, error) {
	ns, err := netns.GetFromName(n.NS)
	if err != nil {
		return nil, fmt.Errorf("mac of %s: %w", n.Name, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("mac of %s: %w", n.Name, err)
	}
	defer h.Close()
	link, err := h.LinkByName(ifName)
	if err != nil {
		return nil, fmt.Errorf("mac of %s: %w", n.Name, err)
	}
	return link.Attrs().HardwareAddr, nil
}

// inNamespace runs f on a thread inside n's namespace (a socket it opens
// stays in that namespace).
func inNamespace[T any](n *Node, f func() (T, error)) (T, error) {
	var zero T
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("current namespace: %w", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.NS)
	if err != nil {
		runtime.UnlockOSThread()
		return zero, err
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return zero, fmt.Errorf("enter namespace %s: %w", n.NS, err)
	}
	v, ferr := f()
	if err := netns.Set(orig); err != nil {
		// The thread stays locked: the runtime discards it with the goroutine.
		if c, ok := any(v).(io.Closer); ok && ferr == nil {
			c.Close()
		}
		return zero, errors.Join(ferr, fmt.Errorf("leave namespace %s: %w", n.NS, err))
	}
	runtime.UnlockOSThread()
	return v, ferr
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
