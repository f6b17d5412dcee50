package check

import (
	"context"
	"fmt"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// MySQL checks (type mysql): what they need of a server. *db.Server
// implements it; tests use fakes.
type MySQLServer interface {
	String() string
	Alive(ctx context.Context) error
	ReplicaStatus(ctx context.Context) (*db.ReplicaStatus, error)
}

var _ MySQLServer = (*db.Server)(nil)

// MySQLAlive (mode alive) passes when the server answers SELECT 1 within
// the deadline. A hung server (accepting connections, answering nothing)
// fails when the deadline passes, not when the driver's read timeout does.
type MySQLAlive struct {
	CheckName string // default "mysql-alive"
	Server    MySQLServer
}

var _ Checker = (*MySQLAlive)(nil)

func (c *MySQLAlive) Name() string {
	if c.CheckName == "" {
		return "mysql-alive"
	}
	return c.CheckName
}

func (c *MySQLAlive) Check(ctx context.Context) Result {
	if c.Server == nil {
		return Result{Detail: "no server configured"}
	}
	if err := c.Server.Alive(ctx); err != nil {
		return Result{Detail: err.Error()}
	}
	return Result{OK: true, Detail: fmt.Sprintf("%s answers", c.Server)}
}

// MySQLReplica (mode replica) passes when the server is a replica whose IO
// and SQL threads both run without a replication error, that positions
// itself by GTID (unless AllowNonGTID), and whose Seconds_Behind_* is within
// MaxLag (when MaxLag > 0): see db.EvaluateReplica. Seconds_Behind_* can
// only fail the check: a small value is never taken as proof of catch-up
// (that is db.Server.WaitForGTID's job).
type MySQLReplica struct {
	CheckName    string // default "mysql-replica"
	Server       MySQLServer
	MaxLag       time.Duration // 0: lag is not judged
	AllowNonGTID bool
}

var _ Checker = (*MySQLReplica)(nil)

func (c *MySQLReplica) Name() string {
	if c.CheckName == "" {
		return "mysql-replica"
	}
	return c.CheckName
}

func (c *MySQLReplica) Check(ctx context.Context) Result {
	if c.Server == nil {
		return Result{Detail: "no server configured"}
	}
	st, err := c.Server.ReplicaStatus(ctx)
	if err != nil {
		return Result{Detail: err.Error()}
	}
	ok, detail := db.EvaluateReplica(st, db.ReplicaPolicy{MaxLag: c.MaxLag, AllowNonGTID: c.AllowNonGTID})
	return Result{OK: ok, Detail: fmt.Sprintf("%s: %s", c.Server, detail)}
}
