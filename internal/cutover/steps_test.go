package cutover_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/state"
)

// server is a fake DB that keeps read_only and super_read_only apart, as
// MySQL does, and can fail or hang where a real server would. Hooks run
// with the lock released.
type server struct {
	mu      sync.Mutex
	name    string
	dialect db.Dialect
	ro, sro bool
	id      uint32
	pos     string
	posErr  error
	applied bool
	replica *db.ReplicaStatus
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

func (s *server) state() db.ReadOnlyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := db.ReadOnlyState{Dialect: s.dialect, ReadOnly: s.ro}
	if s.dialect == db.MySQL {
		st.SuperReadOnly = s.sro
	}
	return st
}

func (s *server) String() string { return s.name }
func (s *server) ServerID(ctx context.Context) (uint32, error) {
	return s.id, s.block(ctx, "ServerID")
}
func (s *server) ReadOnly(ctx context.Context) (db.ReadOnlyState, error) {
	if err := s.block(ctx, "ReadOnly"); err != nil {
		return db.ReadOnlyState{}, err
	}
	return s.state(), nil
}
func (s *server) set(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dialect == db.MySQL {
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
func (s *server) RestoreReadOnly(ctx context.Context, want db.ReadOnlyState) error {
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
		return fmt.Errorf("no time left for a server-side wait (%w)", db.ErrGTIDWaitTimeout)
	}
	select {
	case <-time.After(limit):
		return fmt.Errorf("%w after %s", db.ErrGTIDWaitTimeout, limit)
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
func (s *server) ReplicaStatus(ctx context.Context) (*db.ReplicaStatus, error) {
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
func (s *server) StopApplier(ctx context.Context) error {
	if err := s.block(ctx, "StopApplier"); err != nil {
		return err
	}
	if s.onStop != nil {
		s.onStop()
	}
	s.mu.Lock()
	if s.replica != nil {
		s.replica.SQLRunning = "No"
	}
	s.mu.Unlock()
	s.did("stop-applier")
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
func (s *server) ChangeSource(ctx context.Context, src db.Source) error {
	if err := s.block(ctx, "ChangeSource"); err != nil {
		return err
	}
	s.did("change-source " + src.Host)
	return nil
}

var _ cutover.DB = (*server)(nil)

// plain hides RestoreReadOnly: a DB that can only fence and unfence.
type plain struct{ cutover.DB }

func mariadbRW() *server { return &server{name: "a", dialect: db.MariaDB, pos: "0-1-5"} }

// Fence fails after it set read-only: the fence must be undone by the step
// itself (a drain undoes only the steps before the one that failed), back
// to the state saved before it, in both dialects.
func TestFenceUndoesItselfWhenItFailsAfterFencing(t *testing.T) {
	priors := []struct {
		name    string
		dialect db.Dialect
		ro      bool
	}{
		{"MariaDB writable", db.MariaDB, false},
		{"MySQL writable", db.MySQL, false},
		{"MySQL read_only without super_read_only", db.MySQL, true},
	}
	failures := []struct {
		name string
		set  func(*server)
	}{
		{"position read fails", func(s *server) { s.posErr = errors.New("read gtid position: connection reset") }},
		{"read-back fails", func(s *server) { s.setErr = errors.New("read read_only: connection reset") }},
		{"SET lands after the fence timeout", func(s *server) { s.setLate = true }},
	}
	for _, p := range priors {
		for _, fl := range failures {
			t.Run(p.name+", "+fl.name, func(t *testing.T) {
				db := &server{name: "a", dialect: p.dialect, ro: p.ro, pos: "0-1-5"}
				fl.set(db)
				before := db.state()
				f := &cutover.Fence{Local: db, Timeout: 100 * time.Millisecond, Frozen: &cutover.Frozen{}}
				var out bytes.Buffer
				err := f.Do(context.Background(), &out)
				if err == nil {
					t.Fatalf("fence succeeded: %s", out.String())
				}
				if got := db.state(); got != before {
					t.Fatalf("after the failed fence the server is %s, was %s before (error: %v; did %s)", got, before, err, db.done())
				}
				if !strings.Contains(err.Error(), "fence undone") {
					t.Errorf("the error does not say the fence was undone: %v", err)
				}
				// The drain does not call Undo for the failed step; if
				// anything did, it must not change the state again.
				f.Undo(context.Background(), io.Discard)
				if got := db.state(); got != before {
					t.Fatalf("a later Undo changed the state to %s", got)
				}
			})
		}
	}
}

// The whole drain: a fence whose position read fails refuses the drain,
// leaves the state up, and leaves the primary writable.
func TestRefusedDrainLeavesPrimaryWritable(t *testing.T) {
	db := mariadbRW()
	db.posErr = errors.New("read gtid position: connection reset")
	st := state.Store{Dir: t.TempDir()}
	frozen := &cutover.Frozen{}
	plan := drain.Plan{Steps: []drain.Step{
		&cutover.Fence{Local: db, Timeout: time.Second, Frozen: frozen},
		&cutover.CatchUp{Peer: &server{name: "b"}, Timeout: time.Second, Frozen: frozen},
	}}
	var out bytes.Buffer
	res, err := drain.Run(context.Background(), st, plan, drain.Options{Reason: "test"}, &out)
	if res.Outcome != drain.Refused || !errors.Is(err, drain.ErrRefused) {
		t.Fatalf("drain: outcome %v, %v; want refused\n%s", res.Outcome, err, out.String())
	}
	if cur, lerr := st.Load(); lerr == nil && !cur.IsUp() {
		t.Fatalf("state %s after a refused drain", cur.State)
	}
	if db.state().Fenced() {
		t.Fatalf("refused drain left the primary read-only (did %s)\n%s", db.done(), out.String())
	}
}

// Undo puts back exactly the state saved before the fence: on MySQL,
// read_only=ON with super_read_only=OFF must not become both OFF; a server
// fenced before the drain is left alone.
func TestFenceUndoRestoresTheSavedState(t *testing.T) {
	cases := []struct {
		name     string
		dialect  db.Dialect
		ro, sro  bool
		noRestor bool // the DB can only fence and unfence
		undoErr  bool
		after    string // state after Undo
		did      string
	}{
		{name: "MariaDB writable", dialect: db.MariaDB, after: "read_only=OFF", did: "fence,restore read_only=OFF"},
		{name: "MariaDB read-only before", dialect: db.MariaDB, ro: true, after: "read_only=ON"},
		{name: "MySQL writable", dialect: db.MySQL, after: "read_only=OFF super_read_only=OFF", did: "fence,restore read_only=OFF super_read_only=OFF"},
		{name: "MySQL read_only only", dialect: db.MySQL, ro: true, after: "read_only=ON super_read_only=OFF", did: "fence,restore read_only=ON super_read_only=OFF"},
		{name: "MySQL super_read_only before", dialect: db.MySQL, ro: true, sro: true, after: "read_only=ON super_read_only=ON"},
		{name: "MySQL writable, fence/unfence only", dialect: db.MySQL, noRestor: true, after: "read_only=OFF super_read_only=OFF", did: "fence,unfence"},
		// Without a way to restore read_only alone, stay fenced rather
		// than loosen read_only.
		{name: "MySQL read_only only, fence/unfence only", dialect: db.MySQL, ro: true, noRestor: true, undoErr: true, after: "read_only=ON super_read_only=ON", did: "fence"},
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

// The catch-up names the deadline that actually ended it.
func TestCatchUpNamesTheDeadlineThatExpired(t *testing.T) {
	t.Run("drain deadline first", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		c := &cutover.CatchUp{Peer: &server{name: "b"}, Timeout: time.Minute, Progress: 100 * time.Millisecond, Frozen: &cutover.Frozen{Position: "0-1-9"}}
		err := c.Do(ctx, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "drain's deadline (drain.timeout or --timeout)") {
			t.Fatalf("want the drain's deadline named, got %v", err)
		}
	})
	t.Run("catchup_timeout first", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c := &cutover.CatchUp{Peer: &server{name: "b"}, Timeout: 400 * time.Millisecond, Progress: 100 * time.Millisecond, Frozen: &cutover.Frozen{Position: "0-1-9"}}
		err := c.Do(ctx, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "drain.catchup_timeout 400ms") || strings.Contains(err.Error(), "drain.timeout") {
			t.Fatalf("want drain.catchup_timeout named, got %v", err)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		c := &cutover.CatchUp{Peer: &server{name: "b"}, Timeout: time.Minute, Progress: 100 * time.Millisecond, Frozen: &cutover.Frozen{Position: "0-1-9"}}
		err := c.Do(ctx, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("want an interruption named, got %v", err)
		}
	})
}
