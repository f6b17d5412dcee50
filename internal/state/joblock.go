package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// JobLockName is the lock in the state directory that orders jobs gated
// by `hacheck run` against drains of the same node: a job holds it shared
// while it runs, a drain exclusively from before its first step until it
// returns. So a drain never moves the primary from under a running job,
// and no job starts on a node whose drain has begun.
const JobLockName = "jobs.lock"

// ErrDraining: a drain of this node holds the job lock.
var ErrDraining = errors.New("a drain of this node is in progress")

// ErrJobsRunning: a job gated by `hacheck run` still ran when the drain
// stopped waiting for it.
var ErrJobsRunning = errors.New("a job started by `hacheck run` is still running on this node")

// HoldJob takes the job lock shared, without waiting, and returns its
// release function; ErrDraining when a drain holds it.
func (st Store) HoldJob() (release func(), err error) {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	f, err := openLock(filepath.Join(st.Dir, JobLockName))
	if err != nil {
		return nil, fmt.Errorf("open job lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == nil:
		return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
	case err == unix.EWOULDBLOCK:
		f.Close()
		return nil, ErrDraining
	}
	f.Close()
	return nil, fmt.Errorf("lock %s: %w", JobLockName, err)
}

// QuiesceJobs takes the job lock exclusively, waiting until every running
// job has ended or ctx ends (then ErrJobsRunning), and returns its release
// function.
func (st Store) QuiesceJobs(ctx context.Context) (release func(), err error) {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	release, err = FileLock(ctx, filepath.Join(st.Dir, JobLockName))
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil, ErrJobsRunning
	}
	return release, err
}
