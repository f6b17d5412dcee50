// Package txnload is a transactional workload with row contention, for the
// lab and the tests: Threads clients, each running transactions of several
// UPDATE, DELETE and INSERT statements on a few shared hot rows of Tables
// tables, like an OLTP application. It is what makes SET GLOBAL read_only
// wait: open transactions hold row locks that running statements wait for.
//
// Every transaction also inserts a unique id into a ledger table, inside
// the same transaction. An id counts as acknowledged only when its COMMIT
// returned success; Lost compares the acknowledged ids with a server's
// ledger, so a lost acknowledged commit is found exactly. A transaction
// whose COMMIT failed (or whose outcome is unknown) is not acknowledged.
//
// On any error a client drops its connection and reconnects (bounded by
// the DSN's timeout=), as an application behind a VIP must; it never spins
// on a dead connection.
package txnload

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Config describes the workload. Zero values take the defaults in brackets.
type Config struct {
	DSN      string // go-sql-driver DSN, without a database name; timeout= bounds each connect
	Database string // [txnload]
	Threads  int    // concurrent clients [8]
	Tables   int    // hot tables [4]
	Rows     int    // rows per table [200]
	// TxnTimeout bounds one transaction, connect included [2s].
	TxnTimeout time.Duration
	// Pause between two transactions of one client [0].
	Pause time.Duration
	// Backoff after an error, before reconnecting [20ms].
	Backoff time.Duration
	// Uniform draws rows uniformly. By default three draws in four hit the
	// hottest 1% of each table (at least one row) and the rest are uniform,
	// as sysbench's default "special" distribution does: that is what makes
	// the clients wait for each other's row locks.
	Uniform bool
}

func (c Config) withDefaults() Config {
	if c.Database == "" {
		c.Database = "txnload"
	}
	if c.Threads <= 0 {
		c.Threads = 8
	}
	if c.Tables <= 0 {
		c.Tables = 4
	}
	if c.Rows <= 0 {
		c.Rows = 200
	}
	if c.TxnTimeout <= 0 {
		c.TxnTimeout = 2 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 20 * time.Millisecond
	}
	return c
}

// Table names: t1..tN and the ledger.
func tableName(i int) string { return fmt.Sprintf("t%d", i+1) }

// LedgerTable holds one row per committed transaction.
const LedgerTable = "ledger"

// TableNames returns every table of the workload, the ledger last.
func (c Config) TableNames() []string {
	c = c.withDefaults()
	var ts []string
	for i := range c.Tables {
		ts = append(ts, tableName(i))
	}
	return append(ts, LedgerTable)
}

// Setup creates the database and its tables on db (a primary; replicas get
// them through replication) and fills every hot table with Rows rows. It
// drops what a previous run left.
func Setup(ctx context.Context, db *sql.DB, c Config) error {
	c = c.withDefaults()
	q := []string{
		"DROP DATABASE IF EXISTS " + c.Database,
		"CREATE DATABASE " + c.Database,
		fmt.Sprintf("CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, thread INT NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB", c.Database, LedgerTable),
	}
	for i := range c.Tables {
		q = append(q, fmt.Sprintf("CREATE TABLE %s.%s (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL, KEY (k)) ENGINE=InnoDB", c.Database, tableName(i)))
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s.%s (id, k, c) VALUES ", c.Database, tableName(i))
		for r := 1; r <= c.Rows; r++ {
			if r > 1 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "(%d, %d, 'row-%d')", r, r, r)
		}
		q = append(q, b.String())
	}
	for _, s := range q {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("set up workload %s: %w", c.Database, err)
		}
	}
	return nil
}

// Stats is what the clients saw.
type Stats struct {
	Acked     []int64 // ledger ids whose COMMIT succeeded, in no particular order
	Failed    int     // transactions that ended in an error (not acknowledged)
	Reconnect int     // connections dropped after an error
	LastErr   string
	Errors    map[uint16]int // MySQL error number -> count (0: not a server error)
}

// Load is a running workload.
type Load struct {
	c    Config
	db   *sql.DB
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	next atomic.Int64

	mu sync.Mutex
	st Stats
}

// Start opens the pool and starts the clients. Call Stop to end them.
func Start(c Config) (*Load, error) {
	c = c.withDefaults()
	db, err := sql.Open("mysql", c.DSN)
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	db.SetMaxOpenConns(c.Threads + 1)
	db.SetMaxIdleConns(c.Threads + 1)
	l := &Load{c: c, db: db, stop: make(chan struct{}), st: Stats{Errors: map[uint16]int{}}}
	for i := range c.Threads {
		l.wg.Add(1)
		go l.client(i)
	}
	return l, nil
}

// Snapshot returns a copy of the stats so far.
func (l *Load) Snapshot() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.st
	s.Acked = append([]int64(nil), l.st.Acked...)
	s.Errors = map[uint16]int{}
	for k, v := range l.st.Errors {
		s.Errors[k] = v
	}
	return s
}

// Stop ends the clients (each finishes or abandons its transaction; an
// abandoned one is not acknowledged) and returns the stats. Calling it
// again returns the same stats.
func (l *Load) Stop() Stats {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
		l.db.Close()
	})
	return l.Snapshot()
}

func (l *Load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *Load) client(thread int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(thread), uint64(time.Now().UnixNano())))
	var conn *sql.Conn
	drop := func() {
		if conn != nil {
			// Never hand a connection in an unknown state back to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			conn.Close()
			conn = nil
		}
	}
	defer drop()
	for !l.stopped() {
		id := l.next.Add(1)
		err := l.txn(&conn, thread, id, rng)
		l.mu.Lock()
		if err == nil {
			l.st.Acked = append(l.st.Acked, id)
		} else {
			l.st.Failed++
			l.st.LastErr = err.Error()
			l.st.Errors[errno(err)]++
			if conn != nil {
				l.st.Reconnect++
			}
		}
		l.mu.Unlock()
		if err != nil {
			drop()
			l.sleep(l.c.Backoff)
		} else if l.c.Pause > 0 {
			l.sleep(l.c.Pause)
		}
	}
}

func (l *Load) sleep(d time.Duration) {
	select {
	case <-l.stop:
	case <-time.After(d):
	}
}

// txn runs one transaction: two updates (one on the indexed column), a
// delete and a re-insert of the same row, the ledger insert, commit. Rows
// are drawn mostly from the hot few of each table (see Config.Uniform).
func (l *Load) txn(conn **sql.Conn, thread int, id int64, rng *rand.Rand) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.c.TxnTimeout)
	defer cancel()
	if *conn == nil {
		c, err := l.db.Conn(ctx)
		if err != nil {
			return err
		}
		*conn = c
	}
	c := *conn
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	db, n := l.c.Database, l.c.Tables
	row := func() int {
		if !l.c.Uniform && rng.IntN(4) < 3 {
			return 1 + rng.IntN(max(1, l.c.Rows/100))
		}
		return 1 + rng.IntN(l.c.Rows)
	}
	tab := func() string { return tableName(rng.IntN(n)) }
	r := row()
	stmts := []struct {
		q    string
		args []any
	}{
		{fmt.Sprintf("UPDATE %s.%s SET k = k + 1 WHERE id = ?", db, tab()), []any{row()}},
		{fmt.Sprintf("UPDATE %s.%s SET c = ? WHERE id = ?", db, tab()), []any{fmt.Sprintf("txn-%d", id), row()}},
		{fmt.Sprintf("DELETE FROM %s.%s WHERE id = ?", db, tableName(r%n)), []any{r}},
		{fmt.Sprintf("INSERT INTO %s.%s (id, k, c) VALUES (?, ?, ?)", db, tableName(r%n)), []any{r, r, fmt.Sprintf("ins-%d", id)}},
		{fmt.Sprintf("INSERT INTO %s.%s (id, thread) VALUES (?, ?)", db, LedgerTable), []any{id, thread}},
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// errno is the MySQL error number in err, or 0.
func errno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// Lost reads the ledger on db and returns the acknowledged ids it lacks,
// sorted, and how many rows the ledger has.
func Lost(ctx context.Context, db *sql.DB, database string, acked []int64) (lost []int64, rows int, err error) {
	if database == "" {
		database = Config{}.withDefaults().Database
	}
	rs, err := db.QueryContext(ctx, fmt.Sprintf("SELECT id FROM %s.%s", database, LedgerTable))
	if err != nil {
		return nil, 0, fmt.Errorf("read ledger: %w", err)
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
		return nil, 0, fmt.Errorf("read ledger: %w", err)
	}
	for _, id := range acked {
		if !have[id] {
			lost = append(lost, id)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i] < lost[j] })
	return lost, len(have), nil
}

// Checksums runs CHECKSUM TABLE on every table of the workload and returns
// table -> checksum.
func Checksums(ctx context.Context, db *sql.DB, c Config) (map[string]int64, error) {
	c = c.withDefaults()
	var names []string
	for _, t := range c.TableNames() {
		names = append(names, c.Database+"."+t)
	}
	rs, err := db.QueryContext(ctx, "CHECKSUM TABLE "+strings.Join(names, ", "))
	if err != nil {
		return nil, fmt.Errorf("checksum tables: %w", err)
	}
	defer rs.Close()
	out := map[string]int64{}
	for rs.Next() {
		var name string
		var sum sql.NullInt64
		if err := rs.Scan(&name, &sum); err != nil {
			return nil, err
		}
		if !sum.Valid {
			return nil, fmt.Errorf("checksum table %s: no such table", name)
		}
		out[name] = sum.Int64
	}
	return out, rs.Err()
}

// DiffChecksums lists the tables whose checksums differ between a and b
// (or that one side lacks), sorted.
func DiffChecksums(a, b map[string]int64) []string {
	var diff []string
	for t, v := range a {
		if w, ok := b[t]; !ok || w != v {
			diff = append(diff, t)
		}
	}
	for t := range b {
		if _, ok := a[t]; !ok {
			diff = append(diff, t)
		}
	}
	sort.Strings(diff)
	return diff
}
