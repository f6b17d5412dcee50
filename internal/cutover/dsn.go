package cutover

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/go-sql-driver/mysql"

	hamysql "github.com/hacheck/hacheck/check/mysql"
)

func parseDSN(dsn string) (*mysql.Config, error) { return mysql.ParseDSN(dsn) }

// hostPort splits the address of a tcp DSN, for CHANGE MASTER TO.
func hostPort(dsn string) (string, int, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", 0, fmt.Errorf("parse dsn: %w", err)
	}
	if c.Net != "tcp" {
		return "", 0, fmt.Errorf("dsn %s: replication needs a tcp address, not %s", hamysql.MaskDSN(c), c.Net)
	}
	h, p, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return "", 0, fmt.Errorf("dsn %s: %w", hamysql.MaskDSN(c), err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("dsn %s: bad port %q", hamysql.MaskDSN(c), p)
	}
	return h, port, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vip address %q: %w", s, err)
	}
	return a, nil
}

// PeerAddress is the host and port of a tcp DSN: where a node that follows
// the peer connects for replication.
func PeerAddress(dsn string) (string, int, error) { return hostPort(dsn) }
