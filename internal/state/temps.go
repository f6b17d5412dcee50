package state

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Temp files of WriteFileAtomic are named .<base>.tmp-<pid>-<random>: the
// PID of the writer tells a temp file left by a killed writer (its PID is
// gone) from one a live writer is about to rename (its PID exists), so the
// next write can remove the first kind at once and never the second. A temp
// file without a PID (older hacheck) or whose PID exists counts as left
// behind only once it is older than staleTempAge: a live writer renames its
// temp file within milliseconds, and a PID can be reused.
//
// A writer in another PID namespace sharing the directory would look dead:
// run every hacheck of a node in one PID namespace (they share the state
// lock too).

// staleTempAge is how old a temp file must be before it counts as left
// behind by a killed writer whatever its PID.
const staleTempAge = time.Minute

// tempPrefix is the start of every temp file name of base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// tempPattern is the os.CreateTemp pattern for base, with this process's PID.
func tempPattern(base string) string { return tempPrefix(base) + strconv.Itoa(os.Getpid()) + "-*" }

// tempPID returns the writer PID recorded in a temp file name, or 0.
func tempPID(name string) int {
	i := strings.LastIndex(name, ".tmp-")
	if i < 0 {
		return 0
	}
	pidText, _, ok := strings.Cut(name[i+len(".tmp-"):], "-")
	if !ok {
		return 0
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// staleTemp decides whether the temp file name, last modified at mod, was
// left behind by a killed writer: its writer's PID is gone, or it is older
// than staleTempAge.
func staleTemp(name string, mod, now time.Time, alive func(pid int) bool) bool {
	if now.Sub(mod) > staleTempAge {
		return true
	}
	pid := tempPID(name)
	return pid != 0 && !alive(pid)
}

// processAlive reports whether pid exists (a process of another user
// counts: EPERM). A zombie counts as alive until its parent reaps it.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// removeStaleTempsOf deletes the stale temp files of base in dir.
func removeStaleTempsOf(dir, base string) error {
	return removeStale(dir, func(n string) bool { return strings.HasPrefix(n, tempPrefix(base)) })
}

// removeStaleTemps deletes every stale temp file in the state directory
// (state.json, keepalived.track, last_drain.json, ...). Locked calls it.
func removeStaleTemps(dir string) error {
	return removeStale(dir, func(n string) bool { return strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") })
}

func removeStale(dir string, match func(string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !match(n) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !staleTemp(n, fi.ModTime(), now, processAlive) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
