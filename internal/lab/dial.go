package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/vishvananda/netns"
)

// DialContext returns a dial function whose sockets live in n's network
// namespace, so an in-process client (HTTP, the MySQL driver) reaches the
// lab exactly as a program started in n would. Each socket is created on a
// thread that has entered the namespace and left again before the thread
// is given back; the connection stays in the namespace for its life.
func (l *Lab) DialContext(n *Node) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			c, err := dialIn(ctx, n, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

func dialIn(ctx context.Context, n *Node, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	// The thread is unlocked only after it is back in its own namespace;
	// when that fails it stays locked and the runtime discards it with the
	// goroutine.
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("dial %s in %s: current namespace: %w", addr, n.NS, err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(n.NS)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("dial %s in %s: %w", addr, n.NS, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("dial %s in %s: enter namespace: %w", addr, n.NS, err)
	}
	var d net.Dialer
	c, derr := d.DialContext(ctx, network, addr)
	if err := netns.Set(orig); err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("dial %s in %s: leave namespace: %w", addr, n.NS, err)
	}
	runtime.UnlockOSThread()
	if derr != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, n.NS, derr)
	}
	return c, nil
}

// HTTPClient returns a client whose connections start in n's namespace,
// one fresh connection per request (no keep-alive: after a VIP move the
// next request must reach the new holder), each request bounded by
// timeout.
func (l *Lab) HTTPClient(n *Node, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:       l.DialContext(n),
			DisableKeepAlives: true,
			Proxy:             nil,
		},
	}
}
