package state

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Locked runs fn while holding an exclusive flock on <dir>/state.lock, so
// read-modify-write cycles of several processes (or goroutines) serialize.
// The lock dies with its holder: a kill -9 never leaves it stuck.
func (st Store) Locked(fn func() error) error {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(st.Dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
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
