package check

import (
	"context"
	"fmt"
	"net"
)

// TCP passes when a TCP connection to Address can be opened.
type TCP struct {
	CheckName string
	Address   string // host:port
}

var _ Checker = (*TCP)(nil)

func (c *TCP) Name() string { return c.CheckName }

func (c *TCP) Check(ctx context.Context) Result {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.Address)
	if err != nil {
		return Result{Detail: fmt.Sprintf("connect %s: %v", c.Address, err)}
	}
	conn.Close()
	return Result{OK: true, Detail: "connected to " + c.Address}
}
