package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
)

// Accounts of the MariaDB lab (lab only: the servers listen inside the
// lab's namespaces).
const (
	hacheckUser = "hacheck"
	hacheckPass = "hacheck-lab"
	appUser     = "app"
	appPass     = "app-lab"
	mysqlPort   = 3306
)

// dbNode is one node's mariadbd, started as a lab process.
type dbNode struct {
	node   *lab.Node
	socket string
	db     *sql.DB // root over the unix socket (reachable from any namespace)
}

// addr is host:port of the node's server on its own address.
func (d *dbNode) addr() string { return fmt.Sprintf("%s:%d", d.node.Addr.Addr(), mysqlPort) }

// dsn is a TCP DSN for user on the node's own address, as hacheck uses it.
func dsnFor(addr, user, pass string) string {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = user, pass, "tcp", addr
	c.Timeout = time.Second
	c.ReadTimeout = 5 * time.Second
	c.WriteTimeout = 5 * time.Second
	return c.FormatDSN()
}

// startMariaDB gives A a primary and B (and D in a three-node lab) a GTID
// replica of it, all read-only to begin with (keepalived's notify makes the VIP holder
// writable). The servers are installed with mariadbtest, then restarted as
// lab processes, so that the lab's Close and Down stop them and a
// persistent lab keeps them after this process exits. Every file is under
// the node directories.
func startMariaDB(ctx context.Context, l *lab.Lab) (map[*lab.Node]*dbNode, error) {
	binary, _, err := mariadbd.Binaries(mariadbd.Options{})
	if err != nil {
		return nil, err
	}
	servers := map[*lab.Node]*mariadbd.Server{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(l.Keepalived()))
	for i, n := range l.Keepalived() {
		wg.Go(func() {
			tmp := filepath.Join(n.Dir, "tmp")
			if err := os.MkdirAll(tmp, 0o700); err != nil {
				errs[i] = err
				return
			}
			var s *mariadbd.Server
			var err error
			// One retry: a bootstrap on a busy machine occasionally fails.
			for attempt := 0; attempt < 2 && (attempt == 0 || err != nil); attempt++ {
				s, err = mariadbd.StartProcess(mariadbd.Options{
					BindAddress:   n.Addr.Addr().String(),
					Port:          mysqlPort,
					ServerID:      uint32(i + 1),
					CommandPrefix: []string{"ip", "netns", "exec", n.NS},
					BaseDir:       n.Dir,
					// Also reachable on the VIP; temporary files in the lab.
					ExtraConfig: []string{"bind-address=0.0.0.0", "tmpdir=" + tmp},
				})
			}
			if err != nil {
				errs[i] = fmt.Errorf("start mariadb on %s: %w", n.Name, err)
				return
			}
			mu.Lock()
			servers[n] = s
			mu.Unlock()
		})
	}
	wg.Wait()
	stopAll := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	if err := errors.Join(errs...); err != nil {
		stopAll()
		return nil, err
	}
	a := servers[l.A]
	setup := func() error {
		for _, n := range l.Keepalived() {
			s := servers[n]
			if err := s.CreateUser(ctx, hacheckUser, hacheckPass, mariadbd.HacheckGrants); err != nil {
				return err
			}
			if err := s.CreateUser(ctx, appUser, appPass, "SELECT, INSERT, UPDATE, DELETE"); err != nil {
				return err
			}
		}
		// Through the binlog, so the replica gets them.
		for _, q := range []string{
			"SET GLOBAL read_only=OFF",
			"CREATE DATABASE demo",
			"CREATE TABLE demo.writes (id BIGINT PRIMARY KEY, server_id INT UNSIGNED NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
			"SET GLOBAL read_only=ON",
		} {
			if err := a.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		for _, n := range l.Keepalived()[1:] {
			if err := servers[n].ReplicateFrom(ctx, a); err != nil {
				return err
			}
			if err := servers[n].WaitForPosition(ctx, a, 10*time.Second); err != nil {
				return err
			}
		}
		return nil
	}
	if err := setup(); err != nil {
		stopAll()
		return nil, fmt.Errorf("set up mariadb replication: %w", err)
	}
	// Restart them as lab processes, read-only: keepalived's notify makes
	// the VIP holder writable.
	out := map[*lab.Node]*dbNode{}
	for _, n := range l.Keepalived() {
		s := servers[n]
		if err := s.Shutdown(); err != nil {
			return nil, err
		}
		if _, err := l.Start(n, "mariadbd", binary, "--defaults-file="+filepath.Join(s.Dir, "my.cnf"), "--read-only=ON"); err != nil {
			return nil, err
		}
		db, err := sql.Open("mysql", socketDSN(s.Socket))
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(4)
		out[n] = &dbNode{node: n, socket: s.Socket, db: db}
	}
	for _, d := range out {
		if err := waitPing(ctx, d.db, 30*time.Second); err != nil {
			return out, fmt.Errorf("mariadb on %s after restart: %w", d.node.Name, err)
		}
	}
	for _, n := range l.Keepalived()[1:] {
		if _, err := out[n].db.ExecContext(ctx, "START SLAVE"); err != nil {
			return out, fmt.Errorf("start replica on %s: %w", n.Name, err)
		}
	}
	return out, nil
}

func socketDSN(socket string) string {
	c := mysql.NewConfig()
	c.User, c.Net, c.Addr = "root", "unix", socket
	c.Timeout = 2 * time.Second
	c.ReadTimeout = 10 * time.Second
	c.WriteTimeout = 10 * time.Second
	return c.FormatDSN()
}

func waitPing(ctx context.Context, db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := db.PingContext(pctx)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// openDBNodes reopens the servers of a lab built by another process (for
// status and down): the socket is found under each node directory.
func openDBNodes(l *lab.Lab) map[*lab.Node]*dbNode {
	out := map[*lab.Node]*dbNode{}
	for _, n := range l.Keepalived() {
		m, _ := filepath.Glob(filepath.Join(n.Dir, "mariadbtest-*", "mysqld.sock"))
		if len(m) == 0 {
			continue
		}
		db, err := sql.Open("mysql", socketDSN(m[0]))
		if err != nil {
			continue
		}
		out[n] = &dbNode{node: n, socket: m[0], db: db}
	}
	return out
}

// readOnly returns @@read_only of d, "?" when it cannot be read.
func (d *dbNode) readOnly(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var ro bool
	err := d.db.QueryRowContext(ctx, "SELECT @@read_only").Scan(&ro)
	return ro, err
}

// mysqlHacheckYAML is the node's hacheck.yaml with the database cutover
// configured: its own server, the peer's hacheck and server, the
// replication account, and a live check that the server answers; and the
// admin socket, through which the lean front hands `hacheck drain` to serve.
func mysqlHacheckYAML(n, peer *lab.Node) string {
	var b strings.Builder
	b.WriteString(n.HacheckYAML())
	fmt.Fprintf(&b, `mysql:
  dsn: %q
  query_timeout: 1s
  fence_timeout: 2s
peer:
  url: http://%s:8530
  mysql_dsn: %q
  timeout: 2s
replication:
  user: %s
  password: %s
drain:
  timeout: 30s
  catchup_timeout: 10s
promote:
  unplanned: refuse
admin:
  enabled: true
  socket: %s
`, dsnFor(fmt.Sprintf("%s:%d", n.Addr.Addr(), mysqlPort), hacheckUser, hacheckPass),
		peer.Addr.Addr(), dsnFor(fmt.Sprintf("%s:%d", peer.Addr.Addr(), mysqlPort), hacheckUser, hacheckPass),
		mariadbd.ReplUser, mariadbd.ReplPassword, filepath.Join(n.Dir, "admin.sock"))
	return b.String()
}

// upMySQLLab builds the full lab: MariaDB pair (or primary and two
// replicas), hacheck configured for the cutover on every node, hacheck
// serve, keepalived (A holds the VIP) and waits until A's server is
// writable (keepalived's notify promoted it).
func upMySQLLab(ctx context.Context, l *lab.Lab, keepalived bool) (map[*lab.Node]*dbNode, error) {
	dbs, err := startMariaDB(ctx, l)
	if err != nil {
		return dbs, err
	}
	if l.D != nil {
		err = writeThreeHacheckConfigs(l)
	} else {
		for _, n := range l.Pair() {
			if err = os.WriteFile(n.HacheckConfig, []byte(mysqlHacheckYAML(n, other(l, n))), 0o644); err != nil {
				err = fmt.Errorf("write hacheck config of %s: %w", n.Name, err)
				break
			}
		}
	}
	if err != nil {
		return dbs, err
	}
	for _, n := range l.Keepalived() {
		if out, err := hacheckOn(ctx, l, n, "undrain", "--reason", "lab up"); err != nil {
			return dbs, fmt.Errorf("undrain %s: %w", n.Name, err)
		} else if strings.Contains(out, "warning") {
			fmt.Fprintln(os.Stderr, out)
		}
		if _, err := l.StartShared(n, "serve", n.Hacheck, "serve", "--config", n.HacheckConfig); err != nil {
			return dbs, err
		}
	}
	if !keepalived {
		return dbs, nil
	}
	if err := l.StartAll(ctx, 1500*time.Millisecond); err != nil {
		return dbs, err
	}
	if err := waitWritable(ctx, dbs[l.A], 15*time.Second); err != nil {
		return dbs, fmt.Errorf("%w; notify log of a:\n%s", err, lab.Tail(l.A.KeepalivedLog, 15))
	}
	return dbs, nil
}

// waitWritable waits until d's server has read_only OFF.
func waitWritable(ctx context.Context, d *dbNode, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		ro, err := d.readOnly(ctx)
		if err == nil && !ro {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadb on %s never became writable (read_only %v, %v)", d.node.Name, ro, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
