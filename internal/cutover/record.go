package cutover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// Files in the state directory.
const (
	NotifyRecordName = "notify.json" // the last applied database decision
	notifyLockName   = "notify.lock" // serializes notify and promote
)

// Record is notify.json: health.MySQLStatus plus what ordering needs.
type Record struct {
	health.MySQLStatus
	Instance string `json:"instance,omitempty"`
	// Started is when the applied event's invocation started (wall clock,
	// for people).
	Started time.Time `json:"started"`
	// Stamp is the newest stamp of every applied event (see decideNotify).
	Stamp Stamp `json:"stamp"`
	// Plan is what the applied decision set out to do: PlanPromote,
	// PlanFence, or empty (a refusal that did nothing).
	Plan string `json:"plan,omitempty"`
	// FencePending is set when the applied decision was a fence that did
	// not land (every attempt failed and the server was not seen
	// read-only). The split-brain guard then fails and fences the server
	// while it is writable on a node without the VIP, until it is
	// read-only or a newer decision replaces this record.
	FencePending bool `json:"fence_pending,omitempty"`
}

// Record.Plan values.
const (
	PlanPromote = "promote"
	PlanFence   = "fence"
)

// LoadRecord reads notify.json; ok is false when there is none.
func LoadRecord(dir string) (r Record, ok bool, err error) {
	ok, err = state.LoadJSON(filepath.Join(dir, NotifyRecordName), &r)
	return r, ok, err
}

func saveRecord(dir string, r Record) error {
	return state.SaveJSON(filepath.Join(dir, NotifyRecordName), r)
}

// lockNotify takes the notify lock (an flock on notify.lock, released by
// the kernel if the holder dies), waiting until ctx ends.
func lockNotify(ctx context.Context, dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	release, err = state.FileLock(ctx, filepath.Join(dir, notifyLockName))
	if ctx.Err() != nil && err != nil {
		return nil, fmt.Errorf("another notify or promote still holds %s: %w", notifyLockName, err)
	}
	return release, err
}

// SettlePendingFence marks the pending fence of record seq as done (by the
// split-brain guard, or seen read-only): best effort, only if the notify
// lock is free within wait and the record is still seq.
func SettlePendingFence(dir string, seq uint64, how string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	release, err := lockNotify(ctx, dir)
	if err != nil {
		return err
	}
	defer release()
	r, ok, err := LoadRecord(dir)
	if err != nil || !ok || r.Seq != seq || !r.FencePending {
		return err
	}
	ro := true
	r.FencePending, r.Action, r.ReadOnly, r.At = false, ActionFenced, &ro, time.Now().UTC()
	r.Detail = how + " (notify: " + r.Detail + ")"
	return saveRecord(dir, r)
}
