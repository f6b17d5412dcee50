package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// A Flip is a state change written ahead of the moment it must take
// effect: the new state.json and keepalived.track sit in synced temp files
// beside them, so that Commit is a rename, a directory sync and a rename.
// keepalived sees the track file change one fsync after Commit begins
// instead of three (Set: state.json's temp file, the directory, the track
// file's temp file), each 1-2 ms on a disk the database is syncing to.
// The order is Set's: state.json is durable before keepalived can see the
// track file, so a power loss never leaves a track file that moved the VIP
// beside a state.json that says up.
//
// A drain prepares its flip when its steps begin, so its changed_at is
// that moment. Commit writes the change as Set does whenever the prepared
// one may be wrong, or too early: state.json changed since it was
// prepared, or more than maxFlipAge passed.
type Flip struct {
	st       Store
	c        Change
	at       time.Time
	base     []byte // state.json as read when prepared
	next     State
	stateTmp string // "": nothing prepared, Commit is Set
	trackTmp string
}

// maxFlipAge is how long a prepared flip stays usable.
const maxFlipAge = 250 * time.Millisecond

// PrepareFlip writes c ahead (see Flip). It changes nothing that anyone
// reads; a Flip that could not be prepared commits as Set does.
func (st Store) PrepareFlip(c Change) *Flip {
	f := &Flip{st: st, c: c, at: time.Now()}
	if c.To != Up && c.To != Drained {
		return f // Set says what is wrong
	}
	b, err := os.ReadFile(st.Path())
	if err != nil {
		return f
	}
	cur, lerr := Decode(b, st.Path())
	if lerr != nil || unchanged(cur, lerr, c) {
		return f
	}
	next := nextState(cur, lerr, c, f.at)
	data, err := encodeJSON(st.Path(), next)
	if err != nil {
		return f
	}
	if f.stateTmp, err = writeTemp(st.Path(), data, 0o644, true); err != nil {
		f.stateTmp = ""
		return f
	}
	if f.trackTmp, err = writeTemp(st.TrackPath(), []byte(TrackValue(next, nil)), 0o644, true); err != nil {
		f.Abort()
		return f
	}
	f.base, f.next = b, next
	return f
}

// errStaleFlip: the prepared flip no longer applies; Commit runs Set.
var errStaleFlip = errors.New("prepared flip is stale")

// Commit makes the change, from the prepared files when they still
// apply, else as Set does; it returns what Set returns (changed with an
// error: state.json was replaced, and what followed failed).
func (f *Flip) Commit() (s State, changed bool, err error) {
	if f.stateTmp == "" {
		return f.st.Set(f.c)
	}
	err = f.st.Locked(func() error {
		if time.Since(f.at) > maxFlipAge {
			return errStaleFlip
		}
		b, err := os.ReadFile(f.st.Path())
		if err != nil || !bytes.Equal(b, f.base) {
			return errStaleFlip
		}
		if err := os.Rename(f.stateTmp, f.st.Path()); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return errStaleFlip // removed as a dead writer's
			}
			return fmt.Errorf("save state: %w", err)
		}
		f.stateTmp, changed = "", true // made, even if what follows fails
		if err := syncDir(f.st.Dir); err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		if err := os.Rename(f.trackTmp, f.st.TrackPath()); err != nil {
			// state.json is changed and durable: the track file follows
			// as Set writes it (serve repairs it too, and check reads
			// state.json).
			if werr := f.st.writeTrack(f.next); werr != nil {
				return werr
			}
		}
		f.trackTmp = ""
		if err := syncDir(f.st.Dir); err != nil {
			return fmt.Errorf("save track file: %w", err)
		}
		return nil
	})
	f.Abort()
	switch {
	case errors.Is(err, errStaleFlip):
		return f.st.Set(f.c)
	case changed:
		return f.next, true, err
	}
	return State{}, false, err
}

// Abort removes what was prepared and not committed; it may be called
// after Commit, and more than once.
func (f *Flip) Abort() {
	for _, tmp := range []*string{&f.stateTmp, &f.trackTmp} {
		if *tmp != "" {
			os.Remove(*tmp)
			*tmp = ""
		}
	}
}
