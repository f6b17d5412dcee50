// Package db is hacheck's client for the MySQL/MariaDB server of a node:
// replication status, fencing with read_only, GTID catch-up and
// re-pointing replication, in both SQL dialects. The checks that use it
// live in package check; the decisions that use it in cutover, promote,
// follow, notify and guard.
//
// Every method is bounded. The driver gets a dial timeout and read/write
// timeouts; each call runs under the caller's context, or under
// Options.QueryTimeout when the context has no deadline. Cancelling a context
// closes the connection but does not stop a statement on the server, so every
// statement that can wait is also given a server-side limit shorter than the
// context: MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET get an explicit
// timeout, and SET GLOBAL read_only runs with a session lock_wait_timeout
// (whole seconds, so at least 1s even under a shorter context).
//
// Errors name the operation and the server by its masked DSN
// (user:***@tcp(host:port)/); the password never appears in an error.
//
// # Grants
//
// MariaDB 10.11 (each one shown to be needed by the tests):
//
//	GRANT SLAVE MONITOR, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, PROCESS, CONNECTION ADMIN ON *.* TO 'hacheck'@'%';
//
// SLAVE MONITOR reads replica status,
// READ_ONLY ADMIN fences and unfences (and lets hacheck write while fenced),
// REPLICATION SLAVE ADMIN stops, starts and re-points replication, PROCESS
// and CONNECTION ADMIN let FenceWithKill see and kill what holds a fence up.
// GTID variables and MASTER_GTID_WAIT need no privilege.
//
// MySQL 8.0/8.4 (not tested live here): REPLICATION CLIENT for status,
// SYSTEM_VARIABLES_ADMIN for super_read_only/read_only, REPLICATION_SLAVE_ADMIN
// for STOP/START REPLICA and CHANGE REPLICATION SOURCE, PROCESS and
// CONNECTION_ADMIN for FenceWithKill.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Defaults for Options.
const (
	DefaultDialTimeout     = 2 * time.Second
	DefaultReadTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultQueryTimeout    = 10 * time.Second
	DefaultLockWaitTimeout = 2 * time.Second
)

// MinFenceTimeout is the least time worth starting a fence in, and so the
// shortest mysql.fence_timeout: the server bounds SET GLOBAL read_only's
// wait for running writes in whole seconds, at least 1 s, and SetReadOnly
// sets that to at most 3/4 of what is left; with less than this, the
// client could give up while the statement may still land on the server.
const MinFenceTimeout = 1500 * time.Millisecond

// ErrGTIDWaitTimeout means the server-side GTID wait ran out before the
// position was reached.
var ErrGTIDWaitTimeout = errors.New("gtid wait timed out")

// Options tune a connection. Zero values take the DSN's own timeout=,
// readTimeout= and writeTimeout= when present, else the defaults.
type Options struct {
	DialTimeout  time.Duration // TCP connect (DSN timeout=)
	ReadTimeout  time.Duration // each read; also caps a server-side GTID wait
	WriteTimeout time.Duration // each write
	// QueryTimeout bounds a call whose context has no deadline.
	QueryTimeout time.Duration
	// LockWaitTimeout bounds SET GLOBAL read_only waiting for running
	// writes (session lock_wait_timeout, whole seconds, at least 1).
	LockWaitTimeout time.Duration
	// MaxOpenConns caps the pool; default 4.
	MaxOpenConns int
	// Logger receives the driver's own messages at debug level; nil drops them.
	Logger *slog.Logger
}

// Dialect is the server family, which decides the SQL used.
type Dialect int

const (
	DialectUnknown Dialect = iota
	MariaDB
	MySQL
)

func (d Dialect) String() string {
	switch d {
	case MariaDB:
		return "mariadb"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// ParseDialect tells MariaDB from MySQL (and its forks) by @@version and
// @@version_comment.
func ParseDialect(version, versionComment string) Dialect {
	if strings.Contains(strings.ToLower(version+" "+versionComment), "mariadb") {
		return MariaDB
	}
	if version == "" {
		return DialectUnknown
	}
	return MySQL
}

// Server is one MySQL or MariaDB server. It is safe for concurrent use.
type Server struct {
	db       *sql.DB
	masked   string
	addr     string
	password string
	opts     Options

	mu      sync.Mutex
	dialect Dialect
	version string
}

// Open validates dsn and prepares a connection pool; it does not connect.
func Open(dsn string, opts Options) (*Server, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's parse errors can echo a parameter value, never the
		// DSN; scrub what looks like the password all the same.
		s := &Server{password: guessPassword(dsn)}
		return nil, fmt.Errorf("parse mysql dsn (want user:password@tcp(host:port)/): %w", s.scrub(err))
	}
	return OpenConfig(cfg, opts)
}

// OpenConfig is Open for a DSN that is already parsed (config.DSN); it
// sets the timeouts on cfg, which must not be shared.
func OpenConfig(cfg *mysql.Config, opts Options) (*Server, error) {
	pick := func(opt, fromDSN, def time.Duration) time.Duration {
		switch {
		case opt > 0:
			return opt
		case fromDSN > 0:
			return fromDSN
		}
		return def
	}
	cfg.Timeout = pick(opts.DialTimeout, cfg.Timeout, DefaultDialTimeout)
	cfg.ReadTimeout = pick(opts.ReadTimeout, cfg.ReadTimeout, DefaultReadTimeout)
	cfg.WriteTimeout = pick(opts.WriteTimeout, cfg.WriteTimeout, DefaultWriteTimeout)
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.LockWaitTimeout <= 0 {
		opts.LockWaitTimeout = DefaultLockWaitTimeout
	}
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 4
	}
	// Statements such as CHANGE MASTER TO cannot be prepared with
	// placeholders: let the driver quote arguments into the text.
	cfg.InterpolateParams = true
	cfg.Logger = driverLogger{opts.Logger}

	s := &Server{masked: MaskDSN(cfg), addr: cfg.Addr, password: cfg.Passwd, opts: opts}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql dsn %s: %w", s.masked, s.scrub(err))
	}
	s.db = sql.OpenDB(conn)
	s.db.SetMaxOpenConns(opts.MaxOpenConns)
	s.db.SetMaxIdleConns(maxIdleConns)
	s.db.SetConnMaxLifetime(5 * time.Minute)
	s.db.SetConnMaxIdleTime(time.Minute)
	return s, nil
}

// guessPassword finds the password in a DSN the driver could not parse,
// splitting as the driver does: user info ends at the last '@' before the
// last '/', the password starts after its first ':'.
func guessPassword(dsn string) string {
	end := len(dsn)
	if i := strings.LastIndex(dsn, "/"); i >= 0 {
		end = i
	}
	at := strings.LastIndex(dsn[:end], "@")
	if at < 0 {
		return ""
	}
	_, pass, _ := strings.Cut(dsn[:at], ":")
	return pass
}

// MaskDSN formats cfg as user:***@net(addr)/dbname, without parameters.
func MaskDSN(cfg *mysql.Config) string {
	var b strings.Builder
	if cfg.User != "" {
		b.WriteString(cfg.User)
		if cfg.Passwd != "" {
			b.WriteString(":***")
		}
		b.WriteString("@")
	}
	fmt.Fprintf(&b, "%s(%s)/%s", cfg.Net, cfg.Addr, cfg.DBName)
	return b.String()
}

type driverLogger struct{ l *slog.Logger }

func (d driverLogger) Print(v ...any) {
	if d.l != nil {
		d.l.Debug("mysql driver", "msg", strings.TrimSpace(fmt.Sprint(v...)))
	}
}

// String is the masked DSN.
func (s *Server) String() string { return s.masked }

// Addr is the server's address as given in the DSN.
func (s *Server) Addr() string { return s.addr }

// Close closes the pool.
func (s *Server) Close() error { return s.db.Close() }

// maxIdleConns is how many open connections the pool keeps idle: a
// drain's fence holds two (PrepareFence) while peer-ready reads this
// server's id on a third.
const maxIdleConns = 3

// scrubbedError hides the password in an error text, keeping errors.Is/As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub removes the password from err's text, should anything echo it.
func (s *Server) scrub(err error) error {
	if err == nil || s.password == "" || !strings.Contains(err.Error(), s.password) {
		return err
	}
	return &scrubbedError{msg: strings.ReplaceAll(err.Error(), s.password, "***"), err: err}
}

// fail wraps err as "op masked-dsn: err".
func (s *Server) fail(op string, err error) error {
	return fmt.Errorf("%s %s: %w", op, s.masked, s.scrub(err))
}

// QueryTimeout is Options.QueryTimeout as used (the default when unset):
// callers that hold a long deadline use it to bound each call on its own.
func (s *Server) QueryTimeout() time.Duration { return s.opts.QueryTimeout }

// bound gives ctx a deadline of QueryTimeout when it has none.
func (s *Server) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.opts.QueryTimeout)
}

func (s *Server) queryString(ctx context.Context, query string, args ...any) (string, bool, error) {
	var v sql.NullString
	if err := s.db.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", false, err
	}
	return v.String, v.Valid, nil
}

// Alive runs SELECT 1: the server accepts a connection and answers a query.
func (s *Server) Alive(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	v, _, err := s.queryString(ctx, "SELECT 1")
	if err != nil {
		return s.fail("select 1 on", err)
	}
	if v != "1" {
		return fmt.Errorf("select 1 on %s: got %q", s, v)
	}
	return nil
}

// Dialect returns MariaDB or MySQL, asking the server once.
func (s *Server) Dialect(ctx context.Context) (Dialect, error) {
	s.mu.Lock()
	d := s.dialect
	s.mu.Unlock()
	if d != DialectUnknown {
		return d, nil
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var version, comment sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT @@version, @@version_comment").Scan(&version, &comment); err != nil {
		return DialectUnknown, s.fail("detect server version", err)
	}
	d = ParseDialect(version.String, comment.String)
	if d == DialectUnknown {
		return d, s.fail("detect server version", fmt.Errorf("empty @@version"))
	}
	s.mu.Lock()
	s.dialect, s.version = d, version.String
	s.mu.Unlock()
	return d, nil
}

// ServerID returns @@server_id.
func (s *Server) ServerID(ctx context.Context) (uint32, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var id uint32
	if err := s.db.QueryRowContext(ctx, "SELECT @@GLOBAL.server_id").Scan(&id); err != nil {
		return 0, s.fail("read server_id", err)
	}
	return id, nil
}

// ReadOnlyState is the fence state of a server.
type ReadOnlyState struct {
	Dialect       Dialect
	ReadOnly      bool // @@read_only
	SuperReadOnly bool // @@super_read_only; always false on MariaDB, which has none
}

// Fenced reports whether ordinary clients cannot write: read_only on
// MariaDB (which also blocks SUPER, but not READ_ONLY ADMIN), super_read_only
// on MySQL (read_only alone lets SUPER holders write).
func (r ReadOnlyState) Fenced() bool {
	if r.Dialect == MySQL {
		return r.SuperReadOnly
	}
	return r.ReadOnly
}

func (r ReadOnlyState) String() string {
	if r.Dialect == MySQL {
		return fmt.Sprintf("read_only=%s super_read_only=%s", onOff(r.ReadOnly), onOff(r.SuperReadOnly))
	}
	return "read_only=" + onOff(r.ReadOnly)
}

func onOff(b bool) string {
	if b {
		return "ON"
	}
	return "OFF"
}

// parseSwitch reads a system variable that is ON/OFF, 1/0, or (newer
// MariaDB read_only) an enum whose every value but OFF means on.
func parseSwitch(v string) bool {
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "", "0", "OFF", "FALSE", "NO":
		return false
	}
	return true
}

// ReadOnly reads the fence state.
func (s *Server) ReadOnly(ctx context.Context) (ReadOnlyState, error) {
	d, err := s.Dialect(ctx)
	if err != nil {
		return ReadOnlyState{}, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	st, err := readReadOnly(ctx, s.db, d)
	if err != nil {
		return ReadOnlyState{}, s.fail("read read_only", err)
	}
	return st, nil
}

// rowQueryer is the pool or one of its connections.
type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readReadOnly reads the read-only state of a server of dialect d on q.
func readReadOnly(ctx context.Context, q rowQueryer, d Dialect) (ReadOnlyState, error) {
	var ro, sro sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT "+readOnlyColumns(d)).Scan(&ro, &sro); err != nil {
		return ReadOnlyState{}, err
	}
	return readOnlyState(d, ro, sro), nil
}

// readOnlyColumns are the two columns readOnlyState reads: read_only and,
// on MySQL, super_read_only (NULL on MariaDB, which has none).
func readOnlyColumns(d Dialect) string {
	if d == MySQL {
		return "@@GLOBAL.read_only, @@GLOBAL.super_read_only"
	}
	return "@@GLOBAL.read_only, NULL"
}

// readOnlyState is the state of a server of dialect d from readOnlyColumns.
func readOnlyState(d Dialect, ro, sro sql.NullString) ReadOnlyState {
	return ReadOnlyState{Dialect: d, ReadOnly: parseSwitch(ro.String), SuperReadOnly: parseSwitch(sro.String)}
}

// SetReadOnly fences (on) or unfences the server and reads the state back.
// MariaDB: read_only. MySQL: super_read_only=ON (which sets read_only too);
// off clears super_read_only and read_only. Setting read_only waits for
// running writes to finish; that wait is bounded server-side by
// Options.LockWaitTimeout (or less, to fit ctx).
func (s *Server) SetReadOnly(ctx context.Context, on bool) error {
	op := "unfence"
	if on {
		op = "fence"
	}
	d, err := s.Dialect(ctx)
	if err != nil {
		return err
	}
	var stmts []string
	switch {
	case d == MySQL && on:
		stmts = []string{"SET GLOBAL super_read_only = ON"}
	case d == MySQL:
		stmts = []string{"SET GLOBAL super_read_only = OFF", "SET GLOBAL read_only = OFF"}
	case on:
		stmts = []string{"SET GLOBAL read_only = ON"}
	default:
		stmts = []string{"SET GLOBAL read_only = OFF"}
	}
	return s.setReadOnlyVars(ctx, op, stmts, func(st ReadOnlyState) bool {
		return st.Fenced() == on && (on || !st.ReadOnly)
	})
}

// RestoreReadOnly sets read_only (and, on MySQL, super_read_only) to
// exactly want, each variable on its own, and reads the state back. It is
// how an undo puts back the state saved before a fence: on MySQL,
// read_only=ON with super_read_only=OFF stays exactly that, where
// SetReadOnly(false) would clear both. Bounded like SetReadOnly.
func (s *Server) RestoreReadOnly(ctx context.Context, want ReadOnlyState) error {
	d, err := s.Dialect(ctx)
	if err != nil {
		return err
	}
	set := func(v string, on bool) string { return fmt.Sprintf("SET GLOBAL %s = %s", v, onOff(on)) }
	var stmts []string
	switch {
	case d != MySQL:
		stmts = []string{set("read_only", want.ReadOnly)}
	case want.SuperReadOnly:
		// super_read_only=ON implies read_only=ON.
		stmts = []string{set("super_read_only", true)}
	default:
		// super_read_only first: read_only cannot go OFF while it is ON.
		stmts = []string{set("super_read_only", false), set("read_only", want.ReadOnly)}
	}
	return s.setReadOnlyVars(ctx, "restore "+want.String()+" on", stmts, func(st ReadOnlyState) bool {
		if d != MySQL {
			return st.ReadOnly == want.ReadOnly
		}
		return st.SuperReadOnly == want.SuperReadOnly && st.ReadOnly == (want.ReadOnly || want.SuperReadOnly)
	})
}

// setReadOnlyVars runs stmts on one connection with a session
// lock_wait_timeout that ends before ctx, then reads the state back and
// fails unless ok accepts it.
func (s *Server) setReadOnlyVars(ctx context.Context, op string, stmts []string, ok func(ReadOnlyState) bool) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return s.fail(op, err)
	}
	defer conn.Close()
	wait := s.opts.LockWaitTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)*3/4)
	}
	secs := max(1, int(wait/time.Second))
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET SESSION lock_wait_timeout = %d", secs)); err != nil {
		return s.fail(op, err)
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return s.fail(op, fmt.Errorf("%s: %w", q, err))
		}
	}
	st, err := s.ReadOnly(ctx)
	if err != nil {
		return err
	}
	if !ok(st) {
		return s.fail(op, fmt.Errorf("server still reports %s", st))
	}
	return nil
}

// GTIDPosition returns what this server has executed as a GTID position:
// @@gtid_binlog_pos on MariaDB, @@gtid_executed on MySQL. Read it on a
// fenced primary and hand it to WaitForGTID on the replica.
func (s *Server) GTIDPosition(ctx context.Context) (string, error) {
	d, err := s.Dialect(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	pos, err := readGTIDPosition(ctx, s.db, d)
	if err != nil {
		return "", s.fail("read gtid position", err)
	}
	return pos, nil
}

// readGTIDPosition reads what a server of dialect d has executed, on q.
func readGTIDPosition(ctx context.Context, q rowQueryer, d Dialect) (string, error) {
	var v sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT "+executedColumn(d)).Scan(&v); err != nil {
		return "", err
	}
	return compactGTIDSet(v.String), nil
}

// executedColumn is what a server of dialect d has executed, as a GTID
// position: @@gtid_binlog_pos on MariaDB, @@gtid_executed on MySQL.
func executedColumn(d Dialect) string {
	if d == MySQL {
		return "@@GLOBAL.gtid_executed"
	}
	return "@@GLOBAL.gtid_binlog_pos"
}

// WaitForGTID waits on a replica until it has applied pos: MariaDB
// MASTER_GTID_WAIT (compares against @@gtid_slave_pos, so call it on a
// replica), MySQL WAIT_FOR_EXECUTED_GTID_SET. serverTimeout is the
// server-side limit; it is shortened to end before ctx's deadline and the
// driver's read timeout, so no wait outlives the call. Returns nil when
// reached and an error wrapping ErrGTIDWaitTimeout when the limit ran out.
func (s *Server) WaitForGTID(ctx context.Context, pos string, serverTimeout time.Duration) error {
	pos = compactGTIDSet(pos)
	op := fmt.Sprintf("wait for gtid %q on", pos)
	d, err := s.Dialect(ctx)
	if err != nil {
		return err
	}
	if pos == "" {
		return nil
	}
	if serverTimeout <= 0 {
		return s.fail(op, fmt.Errorf("server timeout must be positive, got %s", serverTimeout))
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	limit := min(serverTimeout, s.opts.ReadTimeout*9/10)
	if dl, ok := ctx.Deadline(); ok {
		// Leave room for the round trip that brings the answer back.
		left := time.Until(dl)
		limit = min(limit, left-max(100*time.Millisecond, left/10))
	}
	if limit < time.Millisecond {
		return s.fail(op, fmt.Errorf("no time left for a server-side wait (%w)", ErrGTIDWaitTimeout))
	}
	secs := math.Floor(limit.Seconds()*1000) / 1000
	q := "SELECT MASTER_GTID_WAIT(?, ?)"
	timedOut := "-1"
	if d == MySQL {
		q = "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)"
		timedOut = "1"
	}
	start := time.Now()
	v, valid, err := s.queryString(ctx, q, pos, secs)
	switch {
	case err != nil:
		return s.fail(op, err)
	case !valid:
		return s.fail(op, fmt.Errorf("server returned NULL (bad position?)"))
	case v == "0":
		return nil
	case v == timedOut:
		return s.fail(op, fmt.Errorf("%w after %s (server-side limit %.3fs)", ErrGTIDWaitTimeout, time.Since(start).Round(time.Millisecond), secs))
	}
	return s.fail(op, fmt.Errorf("unexpected result %q", v))
}

// HasApplied reports whether the server has already applied every
// transaction in pos, without waiting. MariaDB: every GTID of pos is
// covered (see MissingGTIDs) by the union of @@gtid_binlog_pos and
// @@gtid_slave_pos. MySQL: GTID_SUBSET(pos, @@gtid_executed).
func (s *Server) HasApplied(ctx context.Context, pos string) (bool, error) {
	pos = compactGTIDSet(pos)
	d, err := s.Dialect(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	op := fmt.Sprintf("compare gtid %q on", pos)
	if d == MySQL {
		v, _, err := s.queryString(ctx, "SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed)", pos)
		if err != nil {
			return false, s.fail(op, err)
		}
		return v == "1", nil
	}
	want, err := ParseMariaDBGTIDList(pos)
	if err != nil {
		return false, s.fail(op, err)
	}
	var binlogPos, slavePos sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos").Scan(&binlogPos, &slavePos); err != nil {
		return false, s.fail(op, err)
	}
	b, err := ParseMariaDBGTIDList(binlogPos.String)
	if err != nil {
		return false, s.fail(op, fmt.Errorf("gtid_binlog_pos: %w", err))
	}
	sl, err := ParseMariaDBGTIDList(slavePos.String)
	if err != nil {
		return false, s.fail(op, fmt.Errorf("gtid_slave_pos: %w", err))
	}
	return len(MissingGTIDs(MergeGTIDLists(b, sl), want)) == 0, nil
}

// isParseError reports a syntax error (1064): the statement's spelling is
// not known to this server version.
func isParseError(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1064
}

// execFirst runs the first statement the server understands.
func (s *Server) execFirst(ctx context.Context, stmts ...string) error {
	return firstSpelling(stmts, func(q string) error {
		_, err := s.db.ExecContext(ctx, q)
		return err
	})
}

// firstSpelling runs each spelling of one statement in turn (the newer
// first: MySQL 8.4 removed the older; MariaDB and older MySQL may lack the
// newer) until one is not a syntax error, and returns its result.
func firstSpelling(spellings []string, run func(stmt string) error) error {
	var err error
	for _, q := range spellings {
		if err = run(q); err == nil || !isParseError(err) {
			return err
		}
	}
	return err
}

// ReplicaStatus returns the replica status of the default channel, or
// nil, nil when the server is not a replica. It tries SHOW REPLICA STATUS,
// then SHOW SLAVE STATUS for servers that predate it. On MariaDB both show
// the default (unnamed) connection only; on MySQL the row whose
// Channel_Name is empty is read, or the first one.
func (s *Server) ReplicaStatus(ctx context.Context) (*ReplicaStatus, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	var cols []string
	var vals [][]sql.NullString
	err := firstSpelling([]string{"SHOW REPLICA STATUS", "SHOW SLAVE STATUS"}, func(q string) error {
		rows, err := s.db.QueryContext(ctx, q)
		if err == nil {
			cols, vals, err = scanRows(rows)
		}
		return err
	})
	if err != nil {
		return nil, s.fail("read replica status", err)
	}
	if len(vals) == 0 {
		return nil, nil
	}
	pick := vals[0]
	for _, v := range vals {
		r, _ := newRow(cols, v)
		if r.str("Channel_Name", "Connection_name") == "" {
			pick = v
			break
		}
	}
	st, err := ParseReplicaStatus(cols, pick)
	if err != nil {
		return nil, s.fail("read replica status", err)
	}
	st.Channels = len(vals)
	if !slices.Contains(cols, "Executed_Gtid_Set") {
		// MariaDB's status row has Gtid_IO_Pos but no applied position:
		// that is the variable @@gtid_slave_pos.
		pos, _, err := s.queryString(ctx, "SELECT @@GLOBAL.gtid_slave_pos")
		if err != nil {
			return nil, s.fail("read replica status: gtid_slave_pos", err)
		}
		st.ExecutedGTIDs = compactGTIDSet(pos)
	}
	return st, nil
}

// StopReplica stops both replica threads and keeps the replication
// configuration (STOP REPLICA / STOP SLAVE). Stopping a stopped replica is
// not an error.
func (s *Server) StopReplica(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.execFirst(ctx, "STOP REPLICA", "STOP SLAVE"); err != nil {
		return s.fail("stop replica", err)
	}
	return nil
}

// StopApplier stops the replica's SQL thread, which applies what the IO
// thread fetched (STOP REPLICA SQL_THREAD / STOP SLAVE SQL_THREAD): once it
// has returned nothing more from the source is applied here. It does not
// wait for the IO thread's connection to the source to end, as
// StopReplica does (that wait was 5-23 ms of a promotion in the lab).
func (s *Server) StopApplier(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.execFirst(ctx, "STOP REPLICA SQL_THREAD", "STOP SLAVE SQL_THREAD"); err != nil {
		return s.fail("stop replica sql thread", err)
	}
	return nil
}

// StartReplica starts both replica threads (START REPLICA / START SLAVE).
func (s *Server) StartReplica(ctx context.Context) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.execFirst(ctx, "START REPLICA", "START SLAVE"); err != nil {
		return s.fail("start replica", err)
	}
	return nil
}

// Source is where ChangeSource points replication.
type Source struct {
	Host     string
	Port     int
	User     string
	Password string
	// ConnectRetry is the delay between reconnection attempts; default 1s
	// (MariaDB and MySQL round it to whole seconds).
	ConnectRetry time.Duration
}

// ChangeSource stops replication and points it, GTID-based, at src,
// leaving it stopped: call StartReplica next.
//
// MariaDB: the replica starts from gtid_slave_pos, which is set to
// @@gtid_current_pos first: an old primary has its own transactions only
// in its binary log, and an empty or stale gtid_slave_pos would make it
// fetch (and re-apply) history it already has. Then CHANGE MASTER TO ...
// MASTER_USE_GTID=slave_pos. MySQL: CHANGE REPLICATION SOURCE TO ...
// SOURCE_AUTO_POSITION=1 (CHANGE MASTER TO ... MASTER_AUTO_POSITION=1
// before 8.0.23); a replication user with caching_sha2_password then needs
// TLS or GET_SOURCE_PUBLIC_KEY, which this does not set.
func (s *Server) ChangeSource(ctx context.Context, src Source) error {
	op := fmt.Sprintf("change source to %s:%d on", src.Host, src.Port)
	if src.Host == "" || src.Port <= 0 || src.Port > 65535 || src.User == "" {
		return s.fail(op, fmt.Errorf("source needs a host, a port in 1..65535 and a user"))
	}
	retry := max(1, int(src.ConnectRetry/time.Second))
	d, err := s.Dialect(ctx)
	if err != nil {
		return err
	}
	if err := s.StopReplica(ctx); err != nil {
		return err
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	scrub := func(err error) error {
		if src.Password != "" && strings.Contains(err.Error(), src.Password) {
			return &scrubbedError{msg: strings.ReplaceAll(err.Error(), src.Password, "***"), err: err}
		}
		return err
	}
	if d == MySQL {
		err = firstSpelling([]string{
			"CHANGE REPLICATION SOURCE TO SOURCE_HOST = ?, SOURCE_PORT = ?, SOURCE_USER = ?, SOURCE_PASSWORD = ?, SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = ?",
			"CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_AUTO_POSITION = 1, MASTER_CONNECT_RETRY = ?",
		}, func(q string) error {
			_, err := s.db.ExecContext(ctx, q, src.Host, src.Port, src.User, src.Password, retry)
			return err
		})
		if err != nil {
			return s.fail(op, scrub(err))
		}
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_current_pos"); err != nil {
		return s.fail(op, fmt.Errorf("set gtid_slave_pos: %w", err))
	}
	_, err = s.db.ExecContext(ctx, "CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = ?",
		src.Host, src.Port, src.User, src.Password, retry)
	if err != nil {
		return s.fail(op, scrub(err))
	}
	return nil
}

// Grants returns the account's global privileges, from SHOW GRANTS: the
// names granted ON *.* (upper case, "ALL PRIVILEGES" as one name).
func (s *Server) Grants(ctx context.Context) ([]string, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return nil, s.fail("show grants on", err)
	}
	_, vals, err := scanRows(rows)
	if err != nil {
		return nil, s.fail("show grants on", err)
	}
	var lines []string
	for _, v := range vals {
		if len(v) > 0 {
			lines = append(lines, v[0].String)
		}
	}
	return GlobalPrivileges(lines), nil
}

// GlobalPrivileges reads the privileges granted ON *.* from SHOW GRANTS
// lines ("GRANT SLAVE MONITOR, READ_ONLY ADMIN ON *.* TO `hacheck`@`%` ...").
func GlobalPrivileges(lines []string) []string {
	var out []string
	for _, l := range lines {
		u := strings.ToUpper(l)
		if !strings.HasPrefix(u, "GRANT ") {
			continue
		}
		on := strings.Index(u, " ON *.* ")
		if on < 0 {
			continue
		}
		for _, p := range strings.Split(u[len("GRANT "):on], ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
