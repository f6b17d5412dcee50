package state

import (
	"fmt"
	"time"
)

// SetHold records h (see Hold) under the lock and rewrites the track file
// ("1": keepalived puts the instance into FAULT). A hold already there is
// replaced only by one of the same move (same For and By, a renewal);
// another move's hold is refused. The state must be readable; a drained
// node is held too (it stays drained), so that an undrain during the move
// cannot make it eligible.
func (st Store) SetHold(h Hold) (s State, err error) {
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if lerr != nil {
			return fmt.Errorf("hold: %w", lerr)
		}
		if old := cur.Hold; old.ActiveAt(time.Now()) && (old.For != h.For || old.By != h.By) {
			return fmt.Errorf("hold: already %s", old)
		}
		h.Since = h.Since.UTC().Truncate(time.Millisecond)
		h.Until = h.Until.UTC().Truncate(time.Millisecond)
		cur.Hold = &h
		cur.Generation++
		if err := st.write(cur); err != nil {
			return err
		}
		s = cur
		return nil
	})
	return s, err
}

// ReleaseHold removes the hold of the move to forNode by byNode (either ""
// matches any) and rewrites the track file; it reports whether there was
// one to remove.
func (st Store) ReleaseHold(forNode, byNode string) (released bool, err error) {
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if lerr != nil || cur.Hold == nil {
			return nil
		}
		if forNode != "" && cur.Hold.For != forNode || byNode != "" && cur.Hold.By != byNode {
			return nil
		}
		cur.Hold = nil
		cur.Generation++
		released = true
		return st.write(cur)
	})
	return released, err
}

// ExpireHold removes a hold whose lease has ended at now and rewrites the
// track file; `check` and `serve` call it, so an expired hold is cleared
// within a second even when the drain that set it was killed.
func (st Store) ExpireHold(now time.Time) (expired bool, err error) {
	cur, lerr := st.Load()
	if lerr != nil || cur.Hold == nil || cur.Hold.ActiveAt(now) {
		return false, nil
	}
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if lerr != nil || cur.Hold == nil || cur.Hold.ActiveAt(now) {
			return nil
		}
		cur.Hold = nil
		cur.Generation++
		expired = true
		return st.write(cur)
	})
	return expired, err
}
