package check

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

type fakeMySQL struct {
	aliveErr error
	st       *db.ReplicaStatus
	stErr    error
}

func (f *fakeMySQL) String() string                  { return "hc:***@tcp(192.0.2.11:3306)/" }
func (f *fakeMySQL) Alive(ctx context.Context) error { return f.aliveErr }
func (f *fakeMySQL) ReplicaStatus(context.Context) (*db.ReplicaStatus, error) {
	return f.st, f.stErr
}

func TestMySQLChecks(t *testing.T) {
	lag := int64(42)
	running := &db.ReplicaStatus{IORunning: "Yes", SQLRunning: "Yes", UsingGTID: "Slave_Pos", SourceHost: "192.0.2.10", SourcePort: 3306, SourceServerID: 1, SecondsBehind: &lag}
	for _, tt := range []struct {
		name string
		c    Checker
		ok   bool
		want string
	}{
		{"alive", &MySQLAlive{Server: &fakeMySQL{}}, true, "answers"},
		{"alive, down", &MySQLAlive{Server: &fakeMySQL{aliveErr: errors.New("select 1 on x: connection refused")}}, false, "connection refused"},
		{"alive, no server", &MySQLAlive{}, false, "no server configured"},
		{"replica", &MySQLReplica{Server: &fakeMySQL{st: running}}, true, "IO and SQL threads running"},
		{"replica lags", &MySQLReplica{Server: &fakeMySQL{st: running}, MaxLag: 10 * time.Second}, false, "exceeds max 10s"},
		{"not a replica", &MySQLReplica{Server: &fakeMySQL{}}, false, "not a replica"},
		{"replica unreadable", &MySQLReplica{Server: &fakeMySQL{stErr: errors.New("read replica status: denied")}}, false, "denied"},
		{"replica, no server", &MySQLReplica{}, false, "no server configured"},
	} {
		r := Run(context.Background(), tt.c, time.Second)
		if r.OK != tt.ok || !strings.Contains(r.Detail, tt.want) {
			t.Errorf("%s: %+v; want ok=%v with %q", tt.name, r, tt.ok, tt.want)
		}
	}
	if (&MySQLAlive{}).Name() != "mysql-alive" || (&MySQLReplica{CheckName: "db"}).Name() != "db" {
		t.Error("check names")
	}
}
