package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/db"
)

// DSN is a MySQL/MariaDB data source name, parsed and validated once at
// load. The zero value means "not set". Its String is the masked form
// (user:***@tcp(host:port)/): a DSN never prints its password.
type DSN struct {
	parsed *mysql.Config
}

// IsSet reports whether a DSN was configured.
func (d DSN) IsSet() bool { return d.parsed != nil }

// String is the DSN with its password masked; "" when not set.
func (d DSN) String() string {
	if d.parsed == nil {
		return ""
	}
	return db.MaskDSN(d.parsed)
}

// Driver returns a copy of the parsed DSN for the driver to connect with.
func (d DSN) Driver() *mysql.Config {
	if d.parsed == nil {
		return nil
	}
	return d.parsed.Clone()
}

// HostPort is the host and port of a tcp DSN: where a node that follows
// this server connects for replication (CHANGE MASTER TO).
func (d DSN) HostPort() (string, int, error) {
	if d.parsed == nil {
		return "", 0, fmt.Errorf("not set")
	}
	if d.parsed.Net != "tcp" {
		return "", 0, fmt.Errorf("%s: replication needs a tcp address, not %s", d, d.parsed.Net)
	}
	h, p, _ := net.SplitHostPort(d.parsed.Addr) // validated at load
	port, _ := strconv.Atoi(p)
	return h, port, nil
}

// parseDSN validates s fully: the driver's syntax, a network of tcp or
// unix, and an address that network can dial. "" is the zero DSN.
func parseDSN(bad func(key, format string, a ...any), key, s string) DSN {
	if s == "" {
		return DSN{}
	}
	const example = "write e.g. hacheck:PASSWORD@tcp(127.0.0.1:3306)/"
	c, err := mysql.ParseDSN(s)
	if err != nil {
		if strings.Contains(err.Error(), "default addr for network") {
			bad(key, "the address has no network: wrap it as tcp(HOST:PORT) or unix(PATH) (%s)", example)
		} else {
			bad(key, "not a valid DSN: %v (%s)", err, example)
		}
		return DSN{}
	}
	switch c.Net {
	case "tcp", "tcp4", "tcp6":
		if err := checkHostPort(c.Addr, 1); err != nil {
			bad(key, "address %q: %v (%s)", c.Addr, err, example)
			return DSN{}
		}
	case "unix":
		if c.Addr == "" {
			bad(key, "unix socket path is empty (write e.g. hacheck:PASSWORD@unix(/run/mysqld/mysqld.sock)/)")
			return DSN{}
		}
	default:
		if !db.IsRegisteredNetwork(c.Net) {
			bad(key, "network %q is not tcp or unix (%s)", c.Net, example)
			return DSN{}
		}
	}
	return DSN{parsed: c}
}
