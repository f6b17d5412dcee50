package check

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// Galera node states (wsrep_local_state).
const (
	GaleraInitialized = 0 // not in a Primary component (also: before joining)
	GaleraJoining     = 1
	GaleraDonor       = 2 // Donor/Desynced: serving an SST, or wsrep_desync=ON
	GaleraJoined      = 3 // caught up on state transfer, still applying
	GaleraSynced      = 4
)

// GaleraFacts is what a MariaDB Galera node says about itself.
type GaleraFacts struct {
	Galera        bool   // the server has wsrep status (wsrep_local_state)
	LocalState    int    // wsrep_local_state
	StateComment  string // wsrep_local_state_comment
	ClusterStatus string // wsrep_cluster_status: Primary, non-Primary, Disconnected
	ClusterSize   int    // wsrep_cluster_size
	Ready         bool   // wsrep_ready
	Desync        bool   // @@wsrep_desync
	StateUUID     string // wsrep_cluster_state_uuid: the same on every member of one cluster
	MemberUUID    string // wsrep_gcomm_uuid: this member's own identity
	Incoming      string // wsrep_incoming_addresses: host:port of every member's clients, comma-separated
	ReadOnly      bool   // @@read_only
}

// GaleraPolicy is what the galera check tolerates.
type GaleraPolicy struct {
	// DonorOK passes a node that is the donor of a state transfer
	// (wsrep_local_state 2 with wsrep_desync OFF). Safe only with a
	// non-blocking SST method (mariabackup); an rsync or mysqldump donor
	// blocks writes (FLUSH TABLES WITH READ LOCK) for the whole transfer.
	DonorOK bool
	// ReadOnlyOK passes a node with read_only=ON. false fails it, like
	// clustercheck's AVAILABLE_WHEN_READONLY=0.
	ReadOnlyOK bool
}

// GaleraVerdict decides whether a Galera node may take traffic. It passes
// only when the node is in the Primary component, wsrep_ready is ON,
// wsrep_desync is OFF and it is Synced (or a donor, with DonorOK); with
// ReadOnlyOK false, read_only must also be OFF.
//
// A desynced node fails even with DonorOK: wsrep_desync=ON is an operator
// (or backup tool) taking the node out of flow control, so it may fall
// arbitrarily far behind the cluster while it still answers every query.
func GaleraVerdict(f GaleraFacts, p GaleraPolicy) (ok bool, detail string) {
	state := fmt.Sprintf("wsrep_local_state %d (%s)", f.LocalState, f.StateComment)
	switch {
	case !f.Galera:
		return false, "no wsrep_local_state: not a Galera node"
	case f.ClusterStatus != "Primary":
		return false, fmt.Sprintf("in a %s component (cluster size %d), %s: its reads may be stale and it takes no writes", orUnknown(f.ClusterStatus), f.ClusterSize, state)
	case !f.Ready:
		return false, fmt.Sprintf("wsrep_ready is OFF, %s", state)
	case f.Desync:
		return false, fmt.Sprintf("desynced (wsrep_desync=ON), %s: it may lag the cluster without bound", state)
	}
	switch f.LocalState {
	case GaleraSynced:
	case GaleraDonor:
		if !p.DonorOK {
			return false, fmt.Sprintf("donor of a state transfer, %s (donor_ok is false)", state)
		}
	default:
		return false, fmt.Sprintf("not synced, %s", state)
	}
	if f.ReadOnly && !p.ReadOnlyOK {
		return false, fmt.Sprintf("read_only is ON (read_only_ok is false), %s", state)
	}
	detail = fmt.Sprintf("%s, Primary, cluster size %d", f.StateComment, f.ClusterSize)
	if f.LocalState == GaleraDonor {
		detail += " (donor, donor_ok)"
	}
	if f.ReadOnly {
		detail += ", read_only ON (read_only_ok)"
	}
	return true, detail
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// RowQuerier is the one method the galera check needs of a database
// handle; *sql.DB has it.
type RowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ RowQuerier = (*sql.DB)(nil)
	_ RowQuerier = (*db.Server)(nil)
)

// Galera checks a MariaDB Galera node with GaleraVerdict. It reads the
// facts in two statements, each bounded on the server (max_statement_time)
// to 3/4 of what is left of the check's deadline, so a statement ends on
// the server before the check gives up on it.
type Galera struct {
	CheckName string // default "galera"
	DB        RowQuerier
	Server    string // how to name the server in details (a masked DSN)
	Policy    GaleraPolicy
}

var _ Checker = (*Galera)(nil)

func (g *Galera) Name() string {
	if g.CheckName == "" {
		return "galera"
	}
	return g.CheckName
}

// The facts take two statements. Measured on MariaDB 10.11 with galera-4:
// @@GLOBAL variables read in a statement that also reads information_schema
// can come back wrong (wsrep_on 0 on a Galera node, wsrep_desync and
// read_only 0 while ON), and a derived table or a UNION over
// information_schema is refused in a non-Primary component (Error 1047).
// These two forms answer in every node state and need no privilege; a
// server without Galera has no WSREP_* status rows.
const (
	galeraVarsQuery   = `SELECT @@GLOBAL.wsrep_desync, @@GLOBAL.read_only`
	galeraStatusQuery = `SELECT
 MAX(IF(VARIABLE_NAME = 'WSREP_LOCAL_STATE', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_STATUS', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_SIZE', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_READY', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_STATE_UUID', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_GCOMM_UUID', VARIABLE_VALUE, NULL)),
 MAX(IF(VARIABLE_NAME = 'WSREP_INCOMING_ADDRESSES', VARIABLE_VALUE, NULL))
 FROM information_schema.GLOBAL_STATUS
 WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE', 'WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_STATUS', 'WSREP_CLUSTER_SIZE', 'WSREP_READY',
  'WSREP_CLUSTER_STATE_UUID', 'WSREP_GCOMM_UUID', 'WSREP_INCOMING_ADDRESSES')`
)

// defaultGaleraBound is the query's bound when ctx has no deadline.
const defaultGaleraBound = time.Second

// ReadGaleraFacts reads f from db, each statement bounded on the server
// to 3/4 of ctx's remaining time (defaultGaleraBound without a deadline).
func ReadGaleraFacts(ctx context.Context, db RowQuerier) (GaleraFacts, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultGaleraBound)
		defer cancel()
	}
	bounded := func(q string) (string, error) {
		dl, _ := ctx.Deadline()
		bound := time.Until(dl) * 3 / 4
		if bound < 10*time.Millisecond {
			return "", errors.New("no time left for the query")
		}
		return fmt.Sprintf("SET STATEMENT max_statement_time=%.3f FOR %s", bound.Seconds(), q), nil
	}
	var desync, readOnly, state, comment, status, size, ready, stateUUID, member, incoming sql.NullString
	q, err := bounded(galeraVarsQuery)
	if err == nil {
		err = db.QueryRowContext(ctx, q).Scan(&desync, &readOnly)
	}
	if err != nil {
		return GaleraFacts{}, err
	}
	if q, err = bounded(galeraStatusQuery); err == nil {
		err = db.QueryRowContext(ctx, q).Scan(&state, &comment, &status, &size, &ready, &stateUUID, &member, &incoming)
	}
	if err != nil {
		return GaleraFacts{}, err
	}
	f := GaleraFacts{
		Galera:        state.Valid,
		Desync:        on(desync.String),
		ReadOnly:      on(readOnly.String),
		StateComment:  comment.String,
		ClusterStatus: status.String,
		Ready:         on(ready.String),
		StateUUID:     stateUUID.String,
		MemberUUID:    member.String,
		Incoming:      incoming.String,
	}
	f.LocalState, _ = strconv.Atoi(state.String)
	if !state.Valid {
		f.LocalState = -1
	}
	f.ClusterSize, _ = strconv.Atoi(size.String)
	return f, nil
}

// on reads a MariaDB switch as it comes back from @@var (1/0) or from a
// status table (ON/OFF).
func on(v string) bool { return v == "1" || v == "ON" || v == "on" }

func (g *Galera) Check(ctx context.Context) Result {
	if g.DB == nil {
		return Result{Detail: "no server configured"}
	}
	f, err := ReadGaleraFacts(ctx, g.DB)
	if err != nil {
		return Result{Detail: fmt.Sprintf("read galera state of %s: %v", g.Server, err)}
	}
	ok, detail := GaleraVerdict(f, g.Policy)
	return Result{OK: ok, Detail: fmt.Sprintf("%s: %s", g.Server, detail)}
}
