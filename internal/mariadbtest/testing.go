// Package mariadbtest is internal/mariadbd for tests: Start registers a
// cleanup that stops the process (SIGTERM, then SIGKILL) and removes its
// directory even when the test fails, skips the test when mariadbd is not
// installed (fails it when the CI environment variable is set), and the
// helpers below fail the test on error instead of returning one.
package mariadbtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/mariadbd"
)

// Server is a mariadbd.Server with test helpers.
type Server struct{ *mariadbd.Server }

// Options, HacheckGrants and the replication account are mariadbd's.
type Options = mariadbd.Options

const (
	HacheckGrants = mariadbd.HacheckGrants
	ReplUser      = mariadbd.ReplUser
	ReplPassword  = mariadbd.ReplPassword
)

// opTimeout bounds each helper statement run from a test.
const opTimeout = 30 * time.Second

// Start starts a server for the test and stops it (and removes its
// directory) in t.Cleanup, whatever the outcome. When mariadbd is not
// installed the test is skipped, or failed when the CI environment variable
// is set. When the test failed, the tail of the error log is logged first.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, _, err := mariadbd.Binaries(opts); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%v: CI must install mariadb-server to run the MariaDB tests", err)
		}
		t.Skipf("%v: skipping the MariaDB test", err)
	}
	p, err := mariadbd.StartProcess(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{p}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mariadbd %s (server_id %d) error log tail:\n%s", s.Addr, s.ServerID, s.ErrorLogTail(15))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop mariadbd %s: %v", s.Addr, err)
		}
	})
	return s
}

// StartPair starts a primary and a GTID replica of it.
func StartPair(t testing.TB) (primary, replica *Server) {
	t.Helper()
	primary = Start(t, Options{})
	replica = Start(t, Options{})
	replica.MakeReplicaOf(t, primary)
	return primary, replica
}

func testCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Exec runs statements as root over the socket and fails the test on error.
func (s *Server) Exec(t testing.TB, queries ...string) {
	t.Helper()
	ctx, cancel := testCtx()
	defer cancel()
	for _, q := range queries {
		if err := s.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// QueryString returns the first column of the first row of query, run as
// root; NULL reads as "".
func (s *Server) QueryString(t testing.TB, query string, args ...any) string {
	t.Helper()
	ctx, cancel := testCtx()
	defer cancel()
	v, err := s.QueryStringContext(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// MakeReplicaOf makes s a GTID replica of primary (see ReplicateFrom).
func (s *Server) MakeReplicaOf(t testing.TB, primary *Server) {
	t.Helper()
	ctx, cancel := testCtx()
	defer cancel()
	if err := s.ReplicateFrom(ctx, primary.Server); err != nil {
		t.Fatal(err)
	}
}

// CreateHacheckUser creates user@'%' with HacheckGrants on s only (outside
// the binary log: call it on every node that hacheck watches).
func (s *Server) CreateHacheckUser(t testing.TB, user, pass string) {
	t.Helper()
	s.CreateUserWith(t, user, pass, HacheckGrants)
}

// CreateUserWith creates user@'%' with the given privileges on *.* (none
// when privileges is empty) on s only.
func (s *Server) CreateUserWith(t testing.TB, user, pass, privileges string) {
	t.Helper()
	ctx, cancel := testCtx()
	defer cancel()
	if err := s.CreateUser(ctx, user, pass, privileges); err != nil {
		t.Fatal(err)
	}
}

// WaitCaughtUp fails the test unless s has applied everything primary has
// binlogged within timeout.
func (s *Server) WaitCaughtUp(t testing.TB, primary *Server, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	if err := s.WaitForPosition(ctx, primary.Server, timeout); err != nil {
		t.Fatal(err)
	}
}

// IsNotInstalled reports whether err means mariadbd is missing.
func IsNotInstalled(err error) bool { return errors.Is(err, mariadbd.ErrNotInstalled) }
