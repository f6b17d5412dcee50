package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Locked runs fn while holding an exclusive flock on <dir>/state.lock, so
// read-modify-write cycles of several processes (or goroutines) serialize.
// The lock dies with its holder: a kill -9 never leaves it stuck.
func (st Store) Locked(fn func() error) error {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	f, err := openLock(filepath.Join(st.Dir, lockName))
	if err != nil {
		return fmt.Errorf("open state lock: %w", err)
	}
	defer f.Close()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("lock state: %w", err)
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if err := removeStaleTemps(st.Dir); err != nil {
		return fmt.Errorf("remove stale temp files: %w", err)
	}
	return fn()
}

// ErrBusy is returned by OpLock when another drain or undrain holds it past
// the caller's deadline.
var ErrBusy = errors.New("another drain or undrain is in progress on this node")

// OpLock takes the operation lock that serializes whole drain/undrain
// operations (which may fence a database and wait for a replica) and
// returns its release function. It waits until ctx ends.
func (st Store) OpLock(ctx context.Context) (release func(), err error) {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	release, err = FileLock(ctx, filepath.Join(st.Dir, opLockName))
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, ErrBusy
	}
	return release, err
}

// FileLock takes an exclusive flock on path (created if missing) and
// returns its release function. It waits until ctx ends, then returns
// ctx's error. The kernel releases the lock if its holder dies, so a
// kill -9 never leaves it stuck.
func FileLock(ctx context.Context, path string) (release func(), err error) {
	f, err := openLock(path)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// openLock opens (creating if missing) a lock file read-only: flock needs
// no write access, and a lock file created by root (the CLI, keepalived's
// scripts) stays usable by serve running as the dedicated hacheck user.
// Mode 0644: the state directory (0750) is what keeps others out.
func openLock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
}
