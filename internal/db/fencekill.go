package db

// The fence that a busy server cannot refuse: bounded wait, then kill.
//
// SET GLOBAL read_only = ON (MariaDB) or super_read_only = ON (MySQL)
// waits for every running write statement and commit. Under row contention
// that wait never ends by itself: a running UPDATE waits for a row lock
// held by an open transaction, whose next statement waits behind the
// fence. FenceWithKill issues the fence, and each time it has not landed
// within a grace period it kills the connections that can hold it up
// (FenceBlockers), until it lands or the caller's deadline passes. A
// killed transaction rolls back; it was never acknowledged to its client,
// so no acknowledged write is lost.
//
// Grants, besides READ_ONLY ADMIN (MySQL: SYSTEM_VARIABLES_ADMIN): PROCESS
// to see other users' connections in information_schema.PROCESSLIST and
// INNODB_TRX, and CONNECTION ADMIN (MariaDB 10.5+; MySQL: CONNECTION_ADMIN;
// SUPER on both) to kill them.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
)

// ProcessRow is one connection as information_schema.PROCESSLIST shows it,
// with whether it has an open InnoDB transaction (INNODB_TRX).
type ProcessRow struct {
	ID      int64
	User    string
	Host    string
	DB      string
	Command string
	Time    int64 // seconds in the current state
	State   string
	Info    string // the running statement; "" when none
	Trx     bool   // an InnoDB transaction is open on it
	// LockWait: its transaction waits for a row lock (INNODB_TRX
	// trx_state LOCK WAIT).
	LockWait bool
}

// systemUsers run server threads, never a client's work.
var systemUsers = map[string]bool{
	"system user":          true, // replication, InnoDB and other background threads
	"event_scheduler":      true,
	"unauthenticated user": true, // still logging in: holds nothing
}

// systemCommands are replication and server threads, and connections
// already being killed.
var systemCommands = map[string]bool{
	"Binlog Dump":      true, // a replica reading this server's binary log
	"Binlog Dump GTID": true,
	"Register Slave":   true,
	"Daemon":           true,
	"Connect":          true, // MySQL replica threads
	"Killed":           true, // already killed, rolling back
}

// isSystemThread reports whether r is a replication or server thread.
func isSystemThread(r ProcessRow) bool {
	return systemUsers[r.User] || systemCommands[r.Command] ||
		strings.HasPrefix(r.Command, "Slave_") || strings.HasPrefix(r.Command, "Replica_")
}

// FenceBlockers returns the connections that can hold up a fence, sorted
// by id: other clients' connections with a running statement or an open
// transaction. Never a replication or system thread, never one of own
// (hacheck's own connections, the fence's among them). An idle connection
// without a transaction holds nothing and is left alone.
func FenceBlockers(rows []ProcessRow, own map[int64]bool) []ProcessRow {
	var out []ProcessRow
	for _, r := range rows {
		if own[r.ID] || isSystemThread(r) {
			continue
		}
		running := r.Command != "Sleep" && r.Info != ""
		if !running && !r.Trx {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// behindFence are the PROCESSLIST states of a statement waiting for the
// fence itself: MariaDB's read_only takes the backup lock, MySQL's
// super_read_only the global read lock.
var behindFence = map[string]bool{"Waiting for backup lock": true, "Waiting for global read lock": true}

// FenceStalled reports whether the fence is held up in a way that cannot
// resolve before innodb_lock_wait_timeout: a client's running statement
// waits for a row lock, while another client's open transaction waits
// behind the fence. Once the fence waits, no transaction with writes can
// commit (its COMMIT waits behind the fence too), so the row lock is not
// released unless a client rolls back, and the statement the fence waits
// for does not finish: waiting out mysql.fence_grace would only add to the
// write-blocked window.
// Measured on MariaDB 10.11 under internal/txnload (8 clients on hot
// rows): every fence of a drain stalled so, with its blockers in states
// "Updating" (LOCK WAIT) and "Waiting for backup lock".
func FenceStalled(rows []ProcessRow, own map[int64]bool) bool {
	var lockWait, behind bool
	for _, r := range rows {
		if own[r.ID] || isSystemThread(r) {
			continue
		}
		lockWait = lockWait || r.LockWait && r.Info != ""
		behind = behind || r.Trx && behindFence[r.State]
	}
	return lockWait && behind
}

// FenceStuck reports, from two reads of PROCESSLIST one poll apart, whether
// the fence is held up by a statement that is not finishing: a client's
// statement waits behind the fence in cur, and another client's statement,
// not behind the fence, was running in prev and still runs in cur (same
// connection, same text). It needs no INNODB_TRX, whose cache InnoDB
// refills only after 100 ms without a read (see DefaultStallPoll), so it
// sees the stalls FenceStalled misses when the cache was filled before the
// statement's row-lock wait began. A statement it takes for stuck may have
// been about to finish; killing it early costs its client an error, never
// an acknowledged write, while waiting for it holds up every write queued
// behind the fence. So under load a long write is killed within a few ms,
// not after FenceKillOptions.Grace: the grace is the wait for running
// writes while nothing queues behind the fence.
func FenceStuck(prev, cur []ProcessRow, own map[int64]bool) bool {
	if len(prev) == 0 {
		return false
	}
	client := func(r ProcessRow) bool {
		return !own[r.ID] && !isSystemThread(r) && r.Info != "" && r.Command != "Sleep"
	}
	was := make(map[int64]string, len(prev))
	for _, r := range prev {
		if client(r) && !behindFence[r.State] {
			was[r.ID] = r.Info
		}
	}
	var behind, stuck bool
	for _, r := range cur {
		if !client(r) {
			continue
		}
		if behindFence[r.State] {
			behind = true
		} else if info, ok := was[r.ID]; ok && info == r.Info {
			stuck = true
		}
	}
	return behind && stuck
}

// KilledConn is a connection the fence killed, as it was when chosen.
type KilledConn struct {
	ID      int64  `json:"id"`
	User    string `json:"user"`
	Host    string `json:"host"`
	Command string `json:"command"`
	Time    int64  `json:"time_s"`
	State   string `json:"state,omitempty"`
	Info    string `json:"info,omitempty"` // the first 80 characters of the statement
}

// infoLen is how much of a killed connection's statement is kept.
const infoLen = 80

func killedFrom(r ProcessRow) KilledConn {
	info := r.Info
	if utf8.RuneCountInString(info) > infoLen {
		info = string([]rune(info)[:infoLen])
	}
	return KilledConn{ID: r.ID, User: r.User, Host: r.Host, Command: r.Command, Time: r.Time, State: r.State, Info: info}
}

func (k KilledConn) String() string {
	s := fmt.Sprintf("id %d %s@%s %s %ds", k.ID, k.User, k.Host, k.Command, k.Time)
	if k.State != "" {
		s += fmt.Sprintf(" %q", k.State)
	}
	if k.Info != "" {
		s += fmt.Sprintf(": %s", k.Info)
	}
	return s
}

// KillMode is how a blocking connection is killed.
type KillMode int

// Measured on MariaDB 10.11 under internal/txnload (8 clients, hot rows;
// TestLiveFenceKillModes): both modes landed the fence 3 of 3 times, about
// 310 ms after it was issued (the 300 ms grace plus one round of kills);
// since the stall is seen (FenceStalled), about 50 ms.
// The fence waits for running statements and commits, not for open
// transactions, so stopping the statements is enough for the fence itself.
// KILL CONNECTION is the default all the same: it rolls the transaction
// back at once and releases its row locks whatever the client does next,
// where KILL QUERY leaves the transaction open, holding its locks until
// the client gives up on it; and a client that reconnects after a killed
// connection reaches the new primary through the VIP, as it must anyway.
const (
	// KillConnection ends the connection and rolls its transaction back,
	// releasing its row locks. The default.
	KillConnection KillMode = iota
	// KillQuery stops only the running statement; an open transaction
	// stays open with its row locks.
	KillQuery
)

func (m KillMode) sql() string {
	if m == KillQuery {
		return "KILL QUERY"
	}
	return "KILL CONNECTION"
}

// FenceKillOptions tune FenceWithKill.
type FenceKillOptions struct {
	// Grace is how long the fence may wait before the blockers are killed,
	// and again after each round of kills.
	Grace time.Duration
	Mode  KillMode
	// StallPoll is how often, before a round of kills, the connections
	// are read to see whether the fence is held up for good (FenceStalled
	// on one read, FenceStuck on two in a row): then the kills come at
	// once instead of after Grace. 0: DefaultStallPoll; negative: off
	// (Grace alone).
	StallPoll time.Duration
	// Conns, when set, are the connections prepared for this fence
	// (PrepareFence); the caller closes them. Unset, the fence takes its
	// own.
	Conns *FenceConns
}

// DefaultStallPoll is FenceKillOptions.StallPoll when unset.
//
// The reads are of two kinds of data. PROCESSLIST is read fresh each time;
// INNODB_TRX (which connection has a transaction, which is in LOCK WAIT)
// is a cache InnoDB refills only when it has not been read for 100 ms
// (CACHE_MIN_IDLE_TIME_US in trx0i_s.cc), and on MariaDB 10.11 it was
// often older than that: in 15 of 20 fences of one run of
// TestLiveFenceKillUnderLoad (8 clients on hot rows) the first read's
// INNODB_TRX held only the transactions of connections an earlier fence
// had killed, seconds before, and none of the current ones. FenceStalled,
// which needs the cache, then never fired and those fences waited out
// their 300 ms grace. FenceStuck reads PROCESSLIST alone and catches them.
// Measured (same test, 20 fences a run): a stall on two reads in a row
// every 5 ms, p50 14 ms, p95 305 ms; FenceStalled on one read alone, p50
// 9-10 ms in two runs and 304 ms in the third; with FenceStuck, every 5 ms
// p50 13-14 ms, p95 14-15 ms; every 3 ms p50 11 ms, p95 11-14 ms; every 2
// ms p50 8-9 ms, p95 10-57 ms (an occasional second round).
const DefaultStallPoll = 2 * time.Millisecond

// FenceReport is what FenceWithKill did.
type FenceReport struct {
	Waited time.Duration // from issuing the fence until it landed (or gave up)
	Rounds int           // rounds of kills
	// Stalled counts the rounds that came early, because the fence had
	// stalled (FenceStalled), not after Grace.
	Stalled int
	Killed  []KilledConn
	// Position is the server's executed GTID position, read with its
	// state once the fence had landed: the frozen position.
	Position string
}

// fenceAssignment is the assignment that fences a server of dialect d.
func fenceAssignment(d Dialect) string {
	if d == MySQL {
		return "GLOBAL super_read_only = ON"
	}
	return "GLOBAL read_only = ON"
}

// fenceStatement is the statement FenceWithKill sends: the fence, with
// the session's lock_wait_timeout set to secs first. In one statement the
// server applies the assignments in order and the fence waits by the new
// timeout (measured on MariaDB 10.11: 1205 after the 1 s given), which
// saves a round trip before the fence.
func fenceStatement(d Dialect, secs int) string {
	return fmt.Sprintf("SET SESSION lock_wait_timeout = %d, %s", secs, fenceAssignment(d))
}

// fenceStatementLike matches fenceStatement's text, of either dialect, in
// a LIKE: how KillPendingFences finds a killed drain's fence still
// waiting on the server.
const fenceStatementLike = "SET SESSION lock_wait_timeout = %, GLOBAL %read_only = ON"

// processListQuery reads every connection with whether it has an open
// InnoDB transaction; the same SQL on MariaDB and MySQL 8.
const processListQuery = `SELECT p.ID, p.USER, p.HOST, p.DB, p.COMMAND, p.TIME, p.STATE, p.INFO, t.trx_id IS NOT NULL, COALESCE(t.trx_state = 'LOCK WAIT', 0)
FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID`

// Errors from KILL that mean the connection is already gone.
const errUnknownThread = 1094

// FenceWithKill fences the server like SetReadOnly(ctx, true), but does not
// give up on a fence held up by running writes: after opts.Grace it kills
// FenceBlockers (opts.Mode), waits opts.Grace again, and repeats until the
// fence lands or ctx ends. A round of kills comes sooner when the fence is
// held up for good (FenceStalled on one read or FenceStuck on two in a
// row, every opts.StallPoll): then waiting out the grace cannot help, and
// the round kills from the read that showed it. A round kills in killOrder and stops once the fence has
// landed. It runs on opts.Conns when set (PrepareFence: a drain readies
// them while its preconditions run). When ctx ends first the fence statement is
// stopped on the server (KILL QUERY on its own connection), so it cannot
// land later, and the error wraps ctx's. The report lists every connection
// killed, also on error.
func (s *Server) FenceWithKill(ctx context.Context, opts FenceKillOptions) (rep FenceReport, err error) {
	const op = "fence"
	if opts.Grace <= 0 {
		opts.Grace = DefaultFenceGrace
	}
	ctx, cancel := s.bound(ctx)
	defer cancel()
	c := opts.Conns
	if c == nil {
		if c, err = s.PrepareFence(ctx); err != nil {
			return rep, err
		}
		defer c.Close()
	}
	fence, ctl, fenceID, own := c.fence, c.ctl, c.fenceID, c.own()

	stmt := "SET " + fenceAssignment(c.dialect) // for messages
	start := time.Now()
	issue := func() <-chan error {
		// The server-side wait ends before ctx, so a fence that cannot land
		// returns 1205 and is issued again while there is time.
		wait := s.opts.LockWaitTimeout
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl)*3/4)
		}
		q := fenceStatement(c.dialect, max(1, int(wait/time.Second)))
		done := make(chan error, 1)
		go func() {
			_, err := fence.ExecContext(ctx, q)
			done <- err
		}()
		return done
	}
	done := issue()
	var killErr error
	// giveUp stops the fence on the server (cancelling ctx only closed the
	// driver's socket) so that it cannot land after the caller moved on.
	giveUp := func() error {
		kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, kerr := ctl.ExecContext(kctx, fmt.Sprintf("KILL QUERY %d", fenceID))
		kcancel()
		<-done
		rep.Waited = time.Since(start)
		err := fmt.Errorf("%s did not land within its deadline after %d round(s) of kills: %w", stmt, rep.Rounds, ctx.Err())
		if killErr != nil {
			err = fmt.Errorf("%w (killing what held it up failed: %v)", err, killErr)
		}
		if kerr != nil && serverErrno(kerr) != errUnknownThread {
			err = fmt.Errorf("%w; and stopping the fence statement failed: %v (it may still land)", err, kerr)
		}
		return s.fail(op, err)
	}
	grace := time.NewTimer(opts.Grace)
	defer grace.Stop()
	if opts.StallPoll == 0 {
		opts.StallPoll = DefaultStallPoll
	}
	var poll <-chan time.Time
	if opts.StallPoll > 0 {
		t := time.NewTicker(opts.StallPoll)
		defer t.Stop()
		poll = t.C
	}
	var prev []ProcessRow // the last read, when it showed no stall
	// returned reports whether the fence statement has returned (landed,
	// or 1205 and to be sent again), leaving its result for the loop below:
	// a round of kills stops there.
	returned := func() bool {
		select {
		case err := <-done:
			done = closedWith(err)
			return true
		default:
			return false
		}
	}
	// kill is a round of kills, on rows when the caller just read them.
	kill := func(rows []ProcessRow) {
		rep.Rounds++
		killed, err := s.killBlockers(ctx, ctl, rows, own, opts.Mode, returned)
		rep.Killed = append(rep.Killed, killed...)
		if err != nil && ctx.Err() == nil {
			killErr = err
		}
		prev = nil
		grace.Reset(opts.Grace)
	}
wait:
	for {
		select {
		case err := <-done:
			if err == nil {
				rep.Waited = time.Since(start)
				break wait
			}
			if ctx.Err() != nil {
				done = closedWith(err)
				return rep, giveUp()
			}
			if serverErrno(err) == 1205 {
				done = issue()
				continue
			}
			rep.Waited = time.Since(start)
			if killErr != nil {
				err = fmt.Errorf("%w (and killing what held it up failed: %v)", err, killErr)
			}
			return rep, s.fail(op, fmt.Errorf("%s: %w", stmt, err))
		case <-grace.C:
			kill(nil)
		case <-poll:
			rows, err := readProcessList(ctx, ctl)
			switch {
			case err != nil:
				prev = nil
			case FenceStalled(rows, own) || FenceStuck(prev, rows, own):
				rep.Stalled++
				kill(rows) // Reset drops a pending grace tick (Go 1.23 timers)
			default:
				prev = rows
			}
		case <-ctx.Done():
			return rep, giveUp()
		}
	}
	st, pos, err := c.readFenced(ctx)
	if err != nil {
		return rep, err
	}
	if !st.Fenced() {
		return rep, s.fail(op, fmt.Errorf("server still reports %s", st))
	}
	rep.Position = pos
	return rep, nil
}

// DefaultFenceGrace is FenceKillOptions.Grace when unset.
const DefaultFenceGrace = 300 * time.Millisecond

// ProcessList reads every connection of the server (all of them only with
// the PROCESS privilege; without it, the caller's own).
func (s *Server) ProcessList(ctx context.Context) ([]ProcessRow, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := readProcessList(ctx, s.db)
	if err != nil {
		return nil, s.fail("read processlist", err)
	}
	return rows, nil
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readProcessList(ctx context.Context, q queryer) ([]ProcessRow, error) {
	rs, err := q.QueryContext(ctx, processListQuery)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var rows []ProcessRow
	for rs.Next() {
		var r ProcessRow
		var user, host, db, command, state, info sql.NullString
		var t sql.NullInt64
		if err := rs.Scan(&r.ID, &user, &host, &db, &command, &t, &state, &info, &r.Trx, &r.LockWait); err != nil {
			return nil, err
		}
		r.User, r.Host, r.DB, r.Command, r.Time, r.State, r.Info = user.String, host.String, db.String, command.String, t.Int64, state.String, info.String
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// killBlockers kills FenceBlockers of rows (read now when nil) once, in
// killOrder, and stops early once returned reports that the fence
// statement has returned. It returns those it killed (a connection already gone
// counts as neither killed nor failed).
func (s *Server) killBlockers(ctx context.Context, ctl *sql.Conn, rows []ProcessRow, own map[int64]bool, mode KillMode, returned func() bool) ([]KilledConn, error) {
	if rows == nil {
		var err error
		if rows, err = readProcessList(ctx, ctl); err != nil {
			return nil, grantHint(fmt.Errorf("read processlist: %w", err))
		}
	}
	var killed []KilledConn
	var errs []error
	for _, r := range killOrder(FenceBlockers(rows, own)) {
		if returned() {
			break
		}
		_, err := ctl.ExecContext(ctx, fmt.Sprintf("%s %d", mode.sql(), r.ID))
		switch {
		case err == nil:
			killed = append(killed, killedFrom(r))
		case serverErrno(err) == errUnknownThread:
		default:
			errs = append(errs, fmt.Errorf("%s %d (%s@%s): %w", mode.sql(), r.ID, r.User, r.Host, err))
		}
	}
	return killed, grantHint(errors.Join(errs...))
}

// killOrder orders blockers by what the fence waits for: first the
// running statements that wait for a row lock (in a stall, the fence
// lands once they are gone), then the other running statements, then
// those waiting behind the fence itself, then the open transactions
// without a statement (the last two hold row locks, but the fence does
// not wait for them); by id within each. The fence lands as soon as it
// can, and killing stops once it has: a later one keeps its connection,
// and its transaction fails on read_only instead.
func killOrder(blockers []ProcessRow) []ProcessRow {
	rank := func(r ProcessRow) int {
		switch {
		case r.Info == "":
			return 3
		case behindFence[r.State]: // its LockWait may be the cache's stale one
			return 2
		case r.LockWait:
			return 0
		}
		return 1
	}
	out := append([]ProcessRow(nil), blockers...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// grantHint names the missing grant in an access-denied error.
func grantHint(err error) error {
	switch serverErrno(err) {
	case 1227, 1095, 1142:
		return fmt.Errorf("%w (hacheck's user needs PROCESS and CONNECTION ADMIN, on MySQL CONNECTION_ADMIN, to kill what holds the fence up)", err)
	}
	return err
}

// closedWith is a channel that yields err once.
func closedWith(err error) <-chan error {
	c := make(chan error, 1)
	c <- err
	return c
}

// serverErrno is the server's error number in err, or 0.
func serverErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// IsLockWaitTimeout reports whether err is the server's lock wait timeout
// (1205): how a plain fence fails when running writes hold it up.
func IsLockWaitTimeout(err error) bool { return serverErrno(err) == 1205 }
