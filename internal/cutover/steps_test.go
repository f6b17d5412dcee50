package cutover_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	hamysql "github.com/hacheck/hacheck/check/mysql"
	"github.com/hacheck/hacheck/internal/cutover"
)

// server is a fake DB that keeps read_only and super_read_only apart, as
// MySQL does, and can fail or hang where a real server would. Hooks run
// with the lock released.
type server struct {
	mu      sync.Mutex
	name    string
	dialect hamysql.Dialect
	ro, sro bool
	id      uint32
	pos     string
	posErr  error
	applied bool
	replica *hamysql.ReplicaStatus
	hang    map[string]bool // method name -> block until ctx ends
	// setErr: SetReadOnly changes the state, then fails (the read-back).
	setErr error
	// setLate: SetReadOnly blocks until ctx ends, then the SET lands.
	setLate bool
	// onWait, when set, runs in WaitForGTID, which then reports the
	// position reached.
	onWait func()
	// onStop runs in StopReplica.
	onStop func()
	log    []string
}

func (s *server) did(what string) {
	s.mu.Lock()
	s.log = append(s.log, what)
	s.mu.Unlock()
}

func (s *server) done() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, ",")
}

// block waits until ctx ends when method is set to hang.
func (s *server) block(ctx context.Context, method string) error {
	s.mu.Lock()
	h := s.hang[method]
	s.mu.Unlock()
	if !h {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("%s %s: %w", method, s.name, ctx.Err())
}

func (s *server) state() hamysql.ReadOnlyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := hamysql.ReadOnlyState{Dialect: s.dialect, ReadOnly: s.ro}
	if s.dialect == hamysql.MySQL {
		st.SuperReadOnly = s.sro
	}
	return st
}

func (s *server) String() string { return s.name }
func (s *server) ServerID(ctx context.Context) (uint32, error) {
	return s.id, s.block(ctx, "ServerID")
}
func (s *server) ReadOnly(ctx context.Context) (hamysql.ReadOnlyState, error) {
	if err := s.block(ctx, "ReadOnly"); err != nil {
		return hamysql.ReadOnlyState{}, err
	}
	return s.state(), nil
}
func (s *server) set(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dialect == hamysql.MySQL {
		s.sro = on
	}
	s.ro = on
}
func (s *server) SetReadOnly(ctx context.Context, on bool) error {
	what := map[bool]string{true: "fence", false: "unfence"}[on]
	if err := s.block(ctx, "SetReadOnly"); err != nil {
		return err
	}
	if s.setLate && on {
		<-ctx.Done()
		s.set(on)
		s.did(what)
		return fmt.Errorf("fence %s: %w", s.name, ctx.Err())
	}
	s.set(on)
	s.did(what)
	if s.setErr != nil && on {
		return s.setErr
	}
	return nil
}
func (s *server) RestoreReadOnly(ctx context.Context, want hamysql.ReadOnlyState) error {
	if err := s.block(ctx, "RestoreReadOnly"); err != nil {
		return err
	}
	s.mu.Lock()
	s.ro, s.sro = want.ReadOnly || want.SuperReadOnly, want.SuperReadOnly
	s.mu.Unlock()
	s.did("restore " + want.String())
	return nil
}
func (s *server) GTIDPosition(ctx context.Context) (string, error) {
	if err := s.block(ctx, "GTIDPosition"); err != nil {
		return "", err
	}
	return s.pos, s.posErr
}

// WaitForGTID waits as the real one does: up to serverTimeout, ended
// early enough to answer before ctx's deadline.
func (s *server) WaitForGTID(ctx context.Context, _ string, serverTimeout time.Duration) error {
	if err := s.block(ctx, "WaitForGTID"); err != nil {
		return err
	}
	s.mu.Lock()
	applied, onWait := s.applied, s.onWait
	s.mu.Unlock()
	if onWait != nil {
		onWait()
		s.mu.Lock()
		s.applied = true
		s.mu.Unlock()
		return nil
	}
	if applied {
		return nil
	}
	limit := serverTimeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		limit = min(limit, left-max(100*time.Millisecond, left/10))
	}
	if limit < time.Millisecond {
		return fmt.Errorf("no time left for a server-side wait (%w)", hamysql.ErrGTIDWaitTimeout)
	}
	select {
	case <-time.After(limit):
		return fmt.Errorf("%w after %s", hamysql.ErrGTIDWaitTimeout, limit)
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s *server) HasApplied(ctx context.Context, _ string) (bool, error) {
	if err := s.block(ctx, "HasApplied"); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied, nil
}
func (s *server) ReplicaStatus(ctx context.Context) (*hamysql.ReplicaStatus, error) {
	if err := s.block(ctx, "ReplicaStatus"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replica == nil {
		return nil, nil
	}
	r := *s.replica
	return &r, nil
}
func (s *server) StopReplica(ctx context.Context) error {
	if err := s.block(ctx, "StopReplica"); err != nil {
		return err
	}
	if s.onStop != nil {
		s.onStop()
	}
	s.mu.Lock()
	if s.replica != nil {
		s.replica.IORunning, s.replica.SQLRunning = "No", "No"
	}
	s.mu.Unlock()
	s.did("stop-replica")
	return nil
}
func (s *server) StartReplica(ctx context.Context) error {
	if err := s.block(ctx, "StartReplica"); err != nil {
		return err
	}
	s.mu.Lock()
	if s.replica != nil {
		s.replica.IORunning, s.replica.SQLRunning = "Yes", "Yes"
	}
	s.mu.Unlock()
	s.did("start-replica")
	return nil
}
func (s *server) ChangeSource(ctx context.Context, src hamysql.Source) error {
	if err := s.block(ctx, "ChangeSource"); err != nil {
		return err
	}
	s.did("change-source " + src.Host)
	return nil
}

var _ cutover.DB = (*server)(nil)

// plain hides RestoreReadOnly: a DB that can only fence and unfence.
type plain struct{ cutover.DB }

// Undo puts back exactly the state saved before the fence: on MySQL,
// read_only=ON with super_read_only=OFF must not become both OFF; a server
// fenced before the drain is left alone.
func TestFenceUndoRestoresTheSavedState(t *testing.T) {
	cases := []struct {
		name     string
		dialect  hamysql.Dialect
		ro, sro  bool
		noRestor bool // the DB can only fence and unfence
		undoErr  bool
		after    string // state after Undo
		did      string
	}{
		{name: "MariaDB writable", dialect: hamysql.MariaDB, after: "read_only=OFF", did: "fence,restore read_only=OFF"},
		{name: "MariaDB read-only before", dialect: hamysql.MariaDB, ro: true, after: "read_only=ON"},
		{name: "MySQL writable", dialect: hamysql.MySQL, after: "read_only=OFF super_read_only=OFF", did: "fence,restore read_only=OFF super_read_only=OFF"},
		{name: "MySQL read_only only", dialect: hamysql.MySQL, ro: true, after: "read_only=ON super_read_only=OFF", did: "fence,restore read_only=ON super_read_only=OFF"},
		{name: "MySQL super_read_only before", dialect: hamysql.MySQL, ro: true, sro: true, after: "read_only=ON super_read_only=ON"},
		{name: "MySQL writable, fence/unfence only", dialect: hamysql.MySQL, noRestor: true, after: "read_only=OFF super_read_only=OFF", did: "fence,unfence"},
		// Without a way to restore read_only alone, stay fenced rather
		// than loosen read_only.
		{name: "MySQL read_only only, fence/unfence only", dialect: hamysql.MySQL, ro: true, noRestor: true, undoErr: true, after: "read_only=ON super_read_only=ON", did: "fence"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := &server{name: "a", dialect: c.dialect, ro: c.ro, sro: c.sro, pos: "0-1-5"}
			var local cutover.DB = db
			if c.noRestor {
				local = plain{db}
			}
			f := &cutover.Fence{Local: local, Timeout: time.Second, Frozen: &cutover.Frozen{}}
			if err := f.Do(context.Background(), io.Discard); err != nil || !db.state().Fenced() {
				t.Fatalf("fence: %v, %s", err, db.state())
			}
			err := f.Undo(context.Background(), io.Discard)
			if (err != nil) != c.undoErr {
				t.Fatalf("undo: %v, want error %v", err, c.undoErr)
			}
			if got := db.state().String(); got != c.after {
				t.Fatalf("after undo: %s, want %s", got, c.after)
			}
			if got := db.done(); got != c.did {
				t.Fatalf("did %q, want %q", got, c.did)
			}
		})
	}
}
