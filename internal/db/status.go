package db

import (
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReplicaStatus is one row of SHOW REPLICA STATUS / SHOW SLAVE STATUS,
// read by column name so that MySQL's Replica_*/*_Source spellings, its
// older Slave_*/*_Master ones and MariaDB's columns all land in the same
// fields.
type ReplicaStatus struct {
	IORunning  string // Replica_IO_Running: "Yes", "No" or "Connecting"
	SQLRunning string // Replica_SQL_Running: "Yes" or "No"
	IOState    string // Replica_IO_State
	SQLState   string // Replica_SQL_Running_State

	LastIOErrno  int
	LastIOError  string
	LastSQLErrno int
	LastSQLError string

	SourceHost     string
	SourcePort     int
	SourceUser     string
	SourceServerID uint32 // 0 until the IO thread has connected once

	// SecondsBehind is Seconds_Behind_Source/Master; nil when NULL (SQL
	// thread stopped, IO thread not connected). It reads 0 whenever the SQL
	// thread is idle, so it is a hint about lag, never proof of catch-up.
	SecondsBehind *int64

	UsingGTID    string // MariaDB Using_Gtid: "No", "Slave_Pos" or "Current_Pos"
	AutoPosition bool   // MySQL Auto_Position = 1

	// RetrievedGTIDs is MariaDB's Gtid_IO_Pos or MySQL's Retrieved_Gtid_Set.
	RetrievedGTIDs string
	// ExecutedGTIDs is what the replica has applied: MySQL's Executed_Gtid_Set,
	// or on MariaDB (whose status row has no such column) @@gtid_slave_pos.
	ExecutedGTIDs string

	Channel  string // MySQL Channel_Name, MariaDB Connection_name; "" is the default
	Channels int    // rows returned; only the default channel (or the first) is read
}

// IOThreadRunning reports whether the IO thread is connected and running.
func (st *ReplicaStatus) IOThreadRunning() bool { return strings.EqualFold(st.IORunning, "Yes") }

// SQLThreadRunning reports whether the SQL (applier) thread is running.
func (st *ReplicaStatus) SQLThreadRunning() bool { return strings.EqualFold(st.SQLRunning, "Yes") }

// UsesGTID reports whether the replica positions itself by GTID.
func (st *ReplicaStatus) UsesGTID() bool {
	return st.AutoPosition || (st.UsingGTID != "" && !strings.EqualFold(st.UsingGTID, "No"))
}

// Source returns "host:port" of the source the replica is configured for.
func (st *ReplicaStatus) Source() string {
	return fmt.Sprintf("%s:%d", st.SourceHost, st.SourcePort)
}

// row is one result row keyed by lower-cased column name; nil is NULL.
type row map[string]*string

func newRow(columns []string, values []sql.NullString) (row, error) {
	if len(columns) != len(values) {
		return nil, fmt.Errorf("%d columns but %d values", len(columns), len(values))
	}
	r := make(row, len(columns))
	for i, c := range columns {
		if values[i].Valid {
			v := values[i].String
			r[strings.ToLower(c)] = &v
		} else {
			r[strings.ToLower(c)] = nil
		}
	}
	return r, nil
}

// lookup returns the value of the first of names present in the row.
// present is false when none of the columns exist; value is nil for NULL.
func (r row) lookup(names ...string) (value *string, name string, present bool) {
	for _, n := range names {
		if v, ok := r[strings.ToLower(n)]; ok {
			return v, n, true
		}
	}
	return nil, "", false
}

func (r row) str(names ...string) string {
	if v, _, _ := r.lookup(names...); v != nil {
		return *v
	}
	return ""
}

// int64s parses a numeric column; a missing, NULL or empty value is nil.
func (r row) int64p(names ...string) (*int64, error) {
	v, name, _ := r.lookup(names...)
	if v == nil || *v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*v), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("column %s: %q is not a number", name, *v)
	}
	return &n, nil
}

func (r row) int64(names ...string) (int64, error) {
	p, err := r.int64p(names...)
	if err != nil || p == nil {
		return 0, err
	}
	return *p, nil
}

// ParseReplicaStatus reads one SHOW REPLICA STATUS / SHOW SLAVE STATUS row
// given its column names and values (NULL as an invalid NullString).
func ParseReplicaStatus(columns []string, values []sql.NullString) (*ReplicaStatus, error) {
	r, err := newRow(columns, values)
	if err != nil {
		return nil, fmt.Errorf("parse replica status: %w", err)
	}
	if _, _, ok := r.lookup("Replica_IO_Running", "Slave_IO_Running"); !ok {
		return nil, fmt.Errorf("parse replica status: no Replica_IO_Running or Slave_IO_Running column")
	}
	st := &ReplicaStatus{
		IORunning:      r.str("Replica_IO_Running", "Slave_IO_Running"),
		SQLRunning:     r.str("Replica_SQL_Running", "Slave_SQL_Running"),
		IOState:        r.str("Replica_IO_State", "Slave_IO_State"),
		SQLState:       r.str("Replica_SQL_Running_State", "Slave_SQL_Running_State"),
		LastIOError:    r.str("Last_IO_Error"),
		LastSQLError:   r.str("Last_SQL_Error", "Last_Error"),
		SourceHost:     r.str("Source_Host", "Master_Host"),
		SourceUser:     r.str("Source_User", "Master_User"),
		UsingGTID:      r.str("Using_Gtid"),
		RetrievedGTIDs: compactGTIDSet(r.str("Retrieved_Gtid_Set", "Gtid_IO_Pos")),
		ExecutedGTIDs:  compactGTIDSet(r.str("Executed_Gtid_Set")),
		Channel:        r.str("Channel_Name", "Connection_name"),
	}
	var errs []error
	num := func(dst *int, names ...string) {
		n, err := r.int64(names...)
		if err != nil {
			errs = append(errs, err)
		}
		*dst = int(n)
	}
	num(&st.LastIOErrno, "Last_IO_Errno")
	num(&st.LastSQLErrno, "Last_SQL_Errno", "Last_Errno")
	num(&st.SourcePort, "Source_Port", "Master_Port")
	var id, auto int
	num(&id, "Source_Server_Id", "Master_Server_Id")
	st.SourceServerID = uint32(id)
	num(&auto, "Auto_Position")
	st.AutoPosition = auto == 1
	if st.SecondsBehind, err = r.int64p("Seconds_Behind_Source", "Seconds_Behind_Master"); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse replica status: %w", errs[0])
	}
	return st, nil
}

// compactGTIDSet removes the newlines MySQL puts into long GTID sets.
func compactGTIDSet(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// scanRows reads every row of rows as NullStrings.
func scanRows(rows *sql.Rows) (columns []string, values [][]sql.NullString, err error) {
	defer rows.Close()
	if columns, err = rows.Columns(); err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(columns))
		ptrs := make([]any, len(columns))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		values = append(values, vals)
	}
	return columns, values, rows.Err()
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
