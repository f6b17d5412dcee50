package check

// The mysql checks against real mariadbd processes (internal/mariadbtest):
// skipped when mariadbd is not installed, failed instead when CI is set.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/mariadbtest"
)

func TestLiveMySQLChecks(t *testing.T) {
	primary, replica := mariadbtest.StartPair(t)
	for _, s := range []*mariadbtest.Server{primary, replica} {
		s.CreateHacheckUser(t, "hacheck", "hc-pw-5e1")
	}
	open := func(s *mariadbtest.Server, pass string) *db.Server {
		t.Helper()
		srv, err := db.Open(s.DSN("hacheck", pass), db.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		return srv
	}
	p, r := open(primary, "hc-pw-5e1"), open(replica, "hc-pw-5e1")
	ctx := context.Background()
	results := RunAll(ctx, []Checker{
		&MySQLAlive{Server: r},
		&MySQLReplica{Server: r, MaxLag: time.Minute},
		&MySQLReplica{Server: p, CheckName: "primary-as-replica"},
	}, []time.Duration{2 * time.Second, 2 * time.Second, 2 * time.Second})
	if !results[0].OK || !results[1].OK {
		t.Errorf("alive/replica checks on the replica: %+v", results[:2])
	}
	if results[2].OK || !strings.Contains(results[2].Detail, "not a replica") {
		t.Errorf("replica check on the primary: %+v", results[2])
	}

	// A wrong password fails, names the server masked, never the password.
	wrong := open(replica, "wrong-pw-4c1d")
	res := Run(ctx, &MySQLAlive{Server: wrong}, 2*time.Second)
	masked := fmt.Sprintf("hacheck:***@tcp(%s)/", replica.Addr)
	if res.OK || !strings.Contains(res.Detail, masked) || strings.Contains(res.Detail, "wrong-pw-4c1d") {
		t.Errorf("wrong password: %+v", res)
	}

	// A frozen server fails the alive check at its deadline.
	if err := replica.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { replica.Resume() })
	res = Run(ctx, &MySQLAlive{Server: r}, 500*time.Millisecond)
	if res.OK || res.Took > 1500*time.Millisecond {
		t.Errorf("alive check of a paused server: %+v", res)
	}
	t.Logf("paused server: %s after %s", res.Detail, res.Took.Round(time.Millisecond))
}
