package state

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher keeps the latest load of state.json in memory for `serve`, so a
// health request costs no file I/O, yet a change made by the CLI shows
// within milliseconds: it watches the directory with inotify (the CLI
// replaces the file by rename, which is an event on the directory) and
// re-reads once a second as a safety net in case an event is lost.
//
// On every load it also makes keepalived.track agree with state.json.
type Watcher struct {
	store    Store
	log      *slog.Logger
	onChange func(State, error)

	mu  sync.RWMutex
	cur State
	err error
	up  atomic.Bool // cur is valid and up: the hot path of /healthz reads only this
}

// SafetyReload is how often the watcher re-reads state.json without an
// event.
const SafetyReload = time.Second

// NewWatcher loads the state once and repairs the track file.
func NewWatcher(st Store, log *slog.Logger, onChange func(State, error)) *Watcher {
	w := &Watcher{store: st, log: log, onChange: onChange}
	w.reload()
	return w
}

// Up reports whether the latest load is a valid state that is eligible
// (up, and not a stale ex-primary).
func (w *Watcher) Up() bool { return w.up.Load() }

// Current returns the latest load: a State, or the error that makes the
// node unhealthy.
func (w *Watcher) Current() (State, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.cur, w.err
}

// Run watches until ctx ends. It returns an error only when it cannot
// watch at all; the caller should then stop rather than serve stale data.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fw.Close()
	if err := fw.Add(w.store.Dir); err != nil {
		return err
	}
	w.reload() // anything that changed before the watch started
	tick := time.NewTicker(SafetyReload)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if n := filepath.Base(ev.Name); n == FileName || n == TrackName {
				w.reload()
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.log.Warn("state watch error; relying on the periodic reload", "err", err)
		case <-tick.C:
			w.reload()
		}
	}
}

func (w *Watcher) reload() {
	s, err := w.store.Load()
	if err == nil && s.Hold != nil && !s.Hold.ActiveAt(time.Now()) {
		// The lease of a hold has ended (its drain was killed, or could not
		// release it): clear it, so this node is eligible again.
		if expired, xerr := w.store.ExpireHold(time.Now()); xerr != nil {
			w.log.Error("cannot clear an expired hold", "hold", s.Hold.String(), "err", xerr)
		} else if expired {
			w.log.Warn("a hold's lease ended without its release; this node is eligible again", "hold", s.Hold.String())
			s, err = w.store.Load()
		}
	}
	w.mu.Lock()
	// Compared by value: Stale and Hold are pointers, new at every load.
	changed := !sameState(s, w.cur) || errString(err) != errString(w.err)
	w.cur, w.err = s, err
	w.up.Store(err == nil && s.Eligible())
	w.mu.Unlock()
	if repaired, serr := w.store.SyncTrack(); serr != nil {
		w.log.Error("cannot update keepalived track file", "path", w.store.TrackPath(), "err", serr)
	} else if repaired {
		w.log.Warn("repaired keepalived track file that disagreed with the state", "path", w.store.TrackPath())
	}
	if changed && w.onChange != nil {
		w.onChange(s, err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// sameState reports whether a and b are the same state, by value.
func sameState(a, b State) bool {
	ap, bp := a, b
	ap.Stale, ap.Hold, bp.Stale, bp.Hold = nil, nil, nil, nil
	return ap == bp && (a.Stale == nil) == (b.Stale == nil) && (a.Stale == nil || *a.Stale == *b.Stale) &&
		(a.Hold == nil) == (b.Hold == nil) && (a.Hold == nil || *a.Hold == *b.Hold)
}
