package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
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
	var d net.Dialer
	c, err := inNamespace(n, func() (net.Conn, error) { return d.DialContext(ctx, network, addr) })
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", addr, n.NS, err)
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
