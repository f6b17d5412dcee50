package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/lab"
)

// ack is one INSERT the server acknowledged to the writer.
type ack struct {
	id int64
	at time.Time
}

// writer inserts rows through the VIP from the client namespace at a
// steady rate, like an application: one connection, and on any error it
// drops the connection and reconnects. Every acknowledged id is recorded
// with the time of the acknowledgement.
//
// Its connect timeout matters for the write-blocked window: while the VIP
// moves, a SYN sent to it reaches the old holder (the client's ARP entry
// still points there), which no longer has the address and drops it
// silently, so a connect attempt started then hangs until the timeout.
type writer struct {
	db    *sql.DB
	first int64 // ids start after it (0: at 1), so two writers never collide

	mu      sync.Mutex
	acks    []ack
	fails   int
	lastErr string

	stop chan struct{}
	done chan struct{}
}

var registerOnce sync.Map // lab id -> dial name

// writerConfig is how the writer behaves.
type writerConfig struct {
	interval       time.Duration // between two INSERTs
	connectTimeout time.Duration // of each connection attempt
}

// registerWriterFlags adds the writer's flags to fs.
func registerWriterFlags(fs *flag.FlagSet) *writerConfig {
	var c writerConfig
	fs.DurationVar(&c.interval, "write-interval", 10*time.Millisecond, "time between two writes of the writer")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 500*time.Millisecond, "the writer's connect timeout (bounds how long a connection attempt sent to the VIP during the move hangs)")
	return &c
}

func startWriter(l *lab.Lab, wc writerConfig) (*writer, error) { return startWriterAfter(l, wc, 0) }

// startWriterAfter is startWriter with ids after first (a second writer
// on the same table).
func startWriterAfter(l *lab.Lab, wc writerConfig, first int64) (*writer, error) {
	name := clientNet(l)
	// The driver logs a reset connection itself; the writer counts errors.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = appUser, appPass, name, fmt.Sprintf("%s:%d", lab.VIP.Addr(), mysqlPort), "demo"
	c.Timeout = wc.connectTimeout
	c.ReadTimeout = time.Second
	c.WriteTimeout = time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("writer: %w", err)
	}
	w := &writer{db: db, first: first, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(wc.interval)
	return w, nil
}

// clientNet is the driver network name that dials from the lab's client
// namespace, registered once per lab.
func clientNet(l *lab.Lab) string {
	name := "lab-client-" + l.ID
	if _, loaded := registerOnce.LoadOrStore(l.ID, name); !loaded {
		mysql.RegisterDialContext(name, func(ctx context.Context, addr string) (net.Conn, error) {
			return l.DialContext(l.Client)(ctx, "tcp", addr)
		})
	}
	return name
}

func (w *writer) loop(interval time.Duration) {
	defer close(w.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var conn *sql.Conn
	drop := func() {
		if conn != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			conn = nil
		}
	}
	defer drop()
	id := w.first
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		id++
		err := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if conn == nil {
				c, err := w.db.Conn(ctx)
				if err != nil {
					return err
				}
				conn = c
			}
			_, err := conn.ExecContext(ctx, "INSERT INTO writes (id, server_id) VALUES (?, @@server_id)", id)
			return err
		}()
		now := time.Now()
		w.mu.Lock()
		if err == nil {
			w.acks = append(w.acks, ack{id: id, at: now})
		} else {
			w.fails++
			w.lastErr = err.Error()
		}
		w.mu.Unlock()
		if err != nil {
			drop()
		}
	}
}

// Stop ends the writer and returns every acknowledged write.
func (w *writer) Stop() []ack {
	close(w.stop)
	<-w.done
	w.db.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ack(nil), w.acks...)
}

// snapshot returns the acknowledgements so far.
func (w *writer) snapshot() []ack {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]ack(nil), w.acks...)
}

// stats returns how many attempts failed and the last error.
func (w *writer) stats() (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fails, w.lastErr
}

// lastBefore and firstAfter find acknowledgements around t.
func lastBefore(acks []ack, t time.Time) (ack, bool) {
	i := sort.Search(len(acks), func(i int) bool { return !acks[i].at.Before(t) })
	if i == 0 {
		return ack{}, false
	}
	return acks[i-1], true
}

func firstAfter(acks []ack, t time.Time) (ack, bool) {
	i := sort.Search(len(acks), func(i int) bool { return acks[i].at.After(t) })
	if i == len(acks) {
		return ack{}, false
	}
	return acks[i], true
}

// verifyAcks reads demo.writes on d and returns the acknowledged ids it
// lacks.
func verifyAcks(ctx context.Context, d *dbNode, acks []ack) (lost []int64, rows int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rs, err := d.db.QueryContext(ctx, "SELECT id FROM demo.writes")
	if err != nil {
		return nil, 0, fmt.Errorf("read writes on %s: %w", d.node.Name, err)
	}
	defer rs.Close()
	have := map[int64]bool{}
	for rs.Next() {
		var id int64
		if err := rs.Scan(&id); err != nil {
			return nil, 0, err
		}
		have[id] = true
	}
	if err := rs.Err(); err != nil {
		return nil, 0, err
	}
	for _, a := range acks {
		if !have[a.id] {
			lost = append(lost, a.id)
		}
	}
	return lost, len(have), nil
}
