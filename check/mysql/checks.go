package mysql

import (
	"context"
	"fmt"
	"time"

	"github.com/hacheck/hacheck/check"
)

// AliveCheck passes when the server answers SELECT 1 within the deadline.
// A hung server (accepting connections, answering nothing) fails when the
// deadline passes, not when the driver's read timeout does.
type AliveCheck struct {
	CheckName string // default "mysql-alive"
	Server    *Server
}

var _ check.Checker = (*AliveCheck)(nil)

func (c *AliveCheck) Name() string {
	if c.CheckName == "" {
		return "mysql-alive"
	}
	return c.CheckName
}

func (c *AliveCheck) Check(ctx context.Context) check.Result {
	if c.Server == nil {
		return check.Result{Detail: "no server configured"}
	}
	ctx, cancel := c.Server.bound(ctx)
	defer cancel()
	v, _, err := c.Server.queryString(ctx, "SELECT 1")
	if err != nil {
		return check.Result{Detail: c.Server.fail("select 1 on", err).Error()}
	}
	if v != "1" {
		return check.Result{Detail: fmt.Sprintf("select 1 on %s: got %q", c.Server, v)}
	}
	return check.Result{OK: true, Detail: fmt.Sprintf("%s answers", c.Server)}
}

// ReplicaCheck passes when the server is a replica whose IO and SQL threads
// both run without a replication error, that positions itself by GTID
// (unless AllowNonGTID), and whose Seconds_Behind_* is within MaxLag (when
// MaxLag > 0). Seconds_Behind_* can only fail the check: a small value is
// never taken as proof of catch-up (that is WaitForGTID's job).
type ReplicaCheck struct {
	CheckName    string // default "mysql-replica"
	Server       *Server
	MaxLag       time.Duration // 0: lag is not judged
	AllowNonGTID bool
}

var _ check.Checker = (*ReplicaCheck)(nil)

func (c *ReplicaCheck) Name() string {
	if c.CheckName == "" {
		return "mysql-replica"
	}
	return c.CheckName
}

func (c *ReplicaCheck) Check(ctx context.Context) check.Result {
	if c.Server == nil {
		return check.Result{Detail: "no server configured"}
	}
	st, err := c.Server.ReplicaStatus(ctx)
	if err != nil {
		return check.Result{Detail: err.Error()}
	}
	ok, detail := EvaluateReplica(st, ReplicaPolicy{MaxLag: c.MaxLag, AllowNonGTID: c.AllowNonGTID})
	return check.Result{OK: ok, Detail: fmt.Sprintf("%s: %s", c.Server, detail)}
}

// ReplicaPolicy is what EvaluateReplica demands of a replica.
type ReplicaPolicy struct {
	MaxLag       time.Duration // 0: lag is not judged
	AllowNonGTID bool
}

// EvaluateReplica decides whether st is a healthy replica under p and says
// why in one line. nil st (not a replica) fails.
func EvaluateReplica(st *ReplicaStatus, p ReplicaPolicy) (ok bool, detail string) {
	if st == nil {
		return false, "not a replica (no replica status)"
	}
	src := fmt.Sprintf("%s, server_id %d", st.Source(), st.SourceServerID)
	if !st.IOThreadRunning() {
		d := fmt.Sprintf("replica IO thread %s (source %s)", ioWord(st.IORunning), src)
		if st.LastIOErrno != 0 || st.LastIOError != "" {
			d += fmt.Sprintf(": Last_IO_Errno=%d Last_IO_Error=%q", st.LastIOErrno, st.LastIOError)
		}
		return false, d
	}
	if !st.SQLThreadRunning() {
		d := fmt.Sprintf("replica SQL thread stopped (source %s)", src)
		if st.LastSQLErrno != 0 || st.LastSQLError != "" {
			d += fmt.Sprintf(": Last_SQL_Errno=%d Last_SQL_Error=%q", st.LastSQLErrno, st.LastSQLError)
		}
		return false, d
	}
	if st.LastSQLErrno != 0 {
		return false, fmt.Sprintf("replica SQL error (source %s): Last_SQL_Errno=%d Last_SQL_Error=%q", src, st.LastSQLErrno, st.LastSQLError)
	}
	if !p.AllowNonGTID && !st.UsesGTID() {
		return false, fmt.Sprintf("replica of %s does not use GTID positioning (Using_Gtid=%q, Auto_Position=%t)", src, st.UsingGTID, st.AutoPosition)
	}
	lag := "Seconds_Behind=NULL"
	if st.SecondsBehind != nil {
		lag = fmt.Sprintf("Seconds_Behind=%d", *st.SecondsBehind)
	}
	if p.MaxLag > 0 {
		if st.SecondsBehind == nil {
			return false, fmt.Sprintf("replica of %s: lag unknown (%s), max %s", src, lag, p.MaxLag)
		}
		if time.Duration(*st.SecondsBehind)*time.Second > p.MaxLag {
			return false, fmt.Sprintf("replica of %s lags: %s exceeds max %s", src, lag, p.MaxLag)
		}
	}
	d := fmt.Sprintf("replicating from %s, IO and SQL threads running, %s (a hint, not proof of catch-up)", src, lag)
	if st.LastIOErrno != 0 {
		// The IO thread is connected again: an IO error left from before
		// the reconnection is history, not a fault.
		d += fmt.Sprintf("; last IO error before reconnecting: Last_IO_Errno=%d Last_IO_Error=%q", st.LastIOErrno, st.LastIOError)
	}
	return true, d
}

func ioWord(state string) string {
	switch state {
	case "", "No":
		return "stopped"
	case "Connecting":
		return "connecting"
	}
	return "not running (" + state + ")"
}
