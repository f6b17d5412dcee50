package state

import (
	"os"
	"strings"
	"testing"
	"time"
)

// upStore is a state directory whose node is up (generation 1).
func upStore(t *testing.T) Store {
	t.Helper()
	st := Store{Dir: t.TempDir()}
	if _, _, err := st.Set(Change{To: Up, Reason: "test", By: "t"}); err != nil {
		t.Fatal(err)
	}
	return st
}

func track(t *testing.T, st Store) string {
	t.Helper()
	b, err := os.ReadFile(st.TrackPath())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

var drainChange = Change{To: Drained, Reason: "move", By: "op"}

func TestFlipCommit(t *testing.T) {
	st := upStore(t)
	f := st.PrepareFlip(drainChange)
	// Prepared: nothing anyone reads has changed.
	if cur, err := st.Load(); err != nil || !cur.IsUp() || track(t, st) != "0" {
		t.Fatalf("after PrepareFlip: %+v, %v, track %q; want up, track 0", cur, err, track(t, st))
	}
	if n := len(temps(t, st.Dir)); n != 2 {
		t.Fatalf("PrepareFlip left %d temp files, want 2 (state.json's and the track file's)", n)
	}
	s, changed, err := f.Commit()
	if err != nil || !changed || s.State != Drained || s.Generation != 2 || s.Reason != "move" {
		t.Fatalf("Commit = %+v, %v, %v; want drained, changed, generation 2", s, changed, err)
	}
	if cur, err := st.Load(); err != nil || cur != s {
		t.Errorf("state.json = %+v, %v; want what Commit returned, %+v", cur, err, s)
	}
	if track(t, st) != "1" {
		t.Errorf("track file %q, want 1", track(t, st))
	}
	f.Abort() // after Commit: nothing to remove, nothing undone
	if left := temps(t, st.Dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	if cur, _ := st.Load(); cur.State != Drained {
		t.Errorf("Abort after Commit changed the state to %s", cur.State)
	}
}

func TestFlipAbort(t *testing.T) {
	st := upStore(t)
	st.PrepareFlip(drainChange).Abort()
	if left := temps(t, st.Dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	if cur, err := st.Load(); err != nil || !cur.IsUp() || cur.Generation != 1 || track(t, st) != "0" {
		t.Errorf("after Abort: %+v, %v, track %q; want up at generation 1, track 0", cur, err, track(t, st))
	}
}

// A change of state.json between prepare and commit is never overwritten:
// the flip is made again from what is there now, as Set makes it.
func TestFlipAfterAnotherChange(t *testing.T) {
	st := upStore(t)
	f := st.PrepareFlip(drainChange)
	if marked, err := st.MarkStale("test: another writer"); err != nil || !marked {
		t.Fatal(marked, err)
	}
	s, changed, err := f.Commit()
	if err != nil || !changed || s.State != Drained || s.Stale == nil || s.Generation != 3 {
		t.Fatalf("Commit = %+v, %v, %v; want drained, keeping the stale mark, generation 3", s, changed, err)
	}
	if left := temps(t, st.Dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestFlipTooOld(t *testing.T) {
	st := upStore(t)
	f := st.PrepareFlip(drainChange)
	f.at = f.at.Add(-2 * maxFlipAge)
	before := time.Now().UTC().Truncate(time.Millisecond)
	s, changed, err := f.Commit()
	if err != nil || !changed || s.State != Drained || s.ChangedAt.Before(before) {
		t.Fatalf("Commit = %+v, %v, %v; want drained with changed_at from the commit (not before %s)", s, changed, err, before)
	}
	if left := temps(t, st.Dir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestFlipNothingToPrepare(t *testing.T) {
	// Already drained: Commit is Set, which changes nothing.
	st := upStore(t)
	if _, _, err := st.Set(drainChange); err != nil {
		t.Fatal(err)
	}
	s, changed, err := st.PrepareFlip(drainChange).Commit()
	if err != nil || changed || s.Generation != 2 {
		t.Errorf("Commit on a drained node = %+v, %v, %v; want unchanged at generation 2", s, changed, err)
	}
	// No state file: Commit is Set, which writes one.
	st = Store{Dir: t.TempDir()}
	s, changed, err = st.PrepareFlip(drainChange).Commit()
	if err != nil || !changed || s.State != Drained || track(t, st) != "1" {
		t.Errorf("Commit without state.json = %+v, %v, %v, track %q; want drained, track 1", s, changed, err, track(t, st))
	}
	// A bad change: Commit says so, as Set does.
	if _, _, err := st.PrepareFlip(Change{To: "sideways"}).Commit(); err == nil {
		t.Error("Commit of an unknown state: no error")
	}
}
