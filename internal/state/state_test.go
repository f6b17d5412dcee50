package state

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	s, changed, err := st.Set(Change{To: Up, Reason: "first", By: "alice@a", Via: "cli"})
	if err != nil || !changed {
		t.Fatalf("Set up: changed=%v err=%v", changed, err)
	}
	got, err := st.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got != s {
		t.Fatalf("round trip: got %+v, want %+v", got, s)
	}
	if got.Version != Version || got.State != Up || got.Reason != "first" || got.ChangedBy != "alice@a" || got.Generation != 1 {
		t.Fatalf("unexpected state %+v", got)
	}
	track, _ := os.ReadFile(st.TrackPath())
	if string(track) != "0\n" {
		t.Fatalf("track file = %q, want 0", track)
	}
	if _, changed, _ := st.Set(Change{To: Up}); changed {
		t.Fatal("setting the same state again reported a change")
	}
	s, changed, err = st.Set(Change{To: Drained, Reason: "maintenance"})
	if err != nil || !changed || s.Generation != 2 {
		t.Fatalf("drain: %+v changed=%v err=%v", s, changed, err)
	}
	track, _ = os.ReadFile(st.TrackPath())
	if string(track) != "1\n" {
		t.Fatalf("track file = %q, want 1", track)
	}
}

func TestLoadFailsClosed(t *testing.T) {
	cases := []struct {
		name    string
		content string // "" means no file at all
		want    error
	}{
		{"missing", "", ErrMissing},
		{"empty", " ", ErrCorrupt},
		{"not json", "up", ErrCorrupt},
		{"truncated", `{"version":1,"state":"up"`, ErrCorrupt},
		{"unknown version", `{"version":2,"state":"up"}`, ErrVersion},
		{"no version", `{"state":"up"}`, ErrVersion},
		{"unknown state", `{"version":1,"state":"maybe"}`, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := Store{Dir: t.TempDir()}
			if c.content != "" {
				if err := os.WriteFile(st.Path(), []byte(c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := st.Load()
			if !errors.Is(err, c.want) {
				t.Fatalf("Load = %+v, %v; want error %v", s, err, c.want)
			}
			if s.IsUp() {
				t.Fatal("a failed load returned an up state")
			}
			if TrackValue(s, err) != "1\n" {
				t.Fatal("a failed load must give track value 1")
			}
		})
	}
}

func TestMissingStateSaysWhatToDo(t *testing.T) {
	_, err := Store{Dir: t.TempDir()}.Load()
	if err == nil || !strings.Contains(err.Error(), "hacheck undrain") {
		t.Fatalf("error %v should tell the operator to run hacheck undrain", err)
	}
}

func TestUnreadableStateFailsClosed(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	if err := os.Mkdir(st.Path(), 0o755); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	if _, err := st.Load(); err == nil {
		t.Fatal("Load of an unreadable state succeeded")
	}
}

func TestSetReplacesCorruptState(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	os.WriteFile(st.Path(), []byte("garbage"), 0o644)
	s, changed, err := st.Set(Change{To: Up})
	if err != nil || !changed || !s.IsUp() {
		t.Fatalf("Set over corrupt: %+v %v %v", s, changed, err)
	}
	if s.Generation < 2 {
		t.Fatalf("generation after a lost file should start past any plausible old value, got %d", s.Generation)
	}
}

// Concurrent changers serialize on the lock: every successful change bumps
// the generation exactly once, and no change is lost.
func TestConcurrentChangesGenerationExact(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	const workers, rounds = 8, 25
	var mu sync.Mutex
	changes := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				to := Up
				if (w+i)%2 == 0 {
					to = Drained
				}
				_, changed, err := st.Set(Change{To: to})
				if err != nil {
					t.Error(err)
					return
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	s, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if s.Generation != uint64(changes) {
		t.Fatalf("generation %d, but %d changes were reported", s.Generation, changes)
	}
	if changes < 2 {
		t.Fatalf("only %d changes: the test did not exercise contention", changes)
	}
	if want := TrackValue(s, nil); string(must(os.ReadFile(st.TrackPath()))) != want {
		t.Fatal("track file disagrees with state after concurrent changes")
	}
}

func TestSyncTrackRepairs(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	// No state at all: the track file must say "not healthy".
	repaired, err := st.SyncTrack()
	if err != nil || !repaired || string(must(os.ReadFile(st.TrackPath()))) != "1\n" {
		t.Fatalf("sync without state: repaired=%v err=%v", repaired, err)
	}
	st.Set(Change{To: Up})
	os.WriteFile(st.TrackPath(), []byte("1\n"), 0o644) // as if we crashed between the writes
	if repaired, err := st.SyncTrack(); err != nil || !repaired {
		t.Fatalf("stale track not repaired: %v %v", repaired, err)
	}
	if got := string(must(os.ReadFile(st.TrackPath()))); got != "0\n" {
		t.Fatalf("track = %q after repair", got)
	}
	if repaired, _ := st.SyncTrack(); repaired {
		t.Fatal("SyncTrack rewrote a track file that already agreed")
	}
}

// RemoveTemps (the drain journal's sweep, under the operation lock)
// removes the named files' temp files older than minAge, and with minAge
// 0 all of them; what Locked sweeps is TestNextWriteRemovesDeadWritersTemps.
func TestRemoveTemps(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	other := filepath.Join(st.Dir, ".last_drain.json.tmp-"+strconv.Itoa(os.Getpid())+"-1")
	os.WriteFile(other, []byte("{"), 0o644)
	unrelated := filepath.Join(st.Dir, ".notify.json.tmp-"+strconv.Itoa(os.Getpid())+"-2")
	os.WriteFile(unrelated, []byte("{"), 0o644)
	if err := RemoveTemps(st.Dir, time.Hour, "last_drain.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("RemoveTemps removed a temp file younger than minAge")
	}
	if err := RemoveTemps(st.Dir, 0, "last_drain.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Fatal("RemoveTemps with minAge 0 left the temp file")
	}
	if _, err := os.Stat(unrelated); err != nil {
		t.Fatal("RemoveTemps removed the temp file of a file it was not named")
	}
}

// TestKill9NeverCorrupts kills a writer process at random instants while it
// flips the state as fast as it can; every time, the file must load.
func TestKill9NeverCorrupts(t *testing.T) {
	if dir := os.Getenv("HACHECK_STATE_FLIPPER"); dir != "" {
		st := Store{Dir: dir}
		for i := 0; ; i++ {
			to := Up
			if i%2 == 1 {
				to = Drained
			}
			if _, _, err := st.Set(Change{To: to}); err != nil {
				os.Exit(3)
			}
		}
	}
	dir := t.TempDir()
	st := Store{Dir: dir}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9NeverCorrupts$")
		cmd.Env = append(os.Environ(), "HACHECK_STATE_FLIPPER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let the writer get going (the first round waits for its first
		// write), then kill it at a random instant.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(st.Path()); err == nil {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(30000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		s, err := st.Load()
		if err != nil {
			t.Fatalf("round %d: state unreadable after kill -9: %v", round, err)
		}
		if s.Generation == 0 {
			t.Fatalf("round %d: generation 0", round)
		}
	}
	// The next write removes whatever temp file a killed writer left.
	if _, _, err := st.Set(Change{To: Up, Reason: "after the kills"}); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) > 0 {
		t.Fatalf("temp files left after the next write: %v", left)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestTransitionRoundTrip(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	if _, ok, err := st.LoadTransition(); ok || err != nil {
		t.Fatalf("empty dir: ok=%v err=%v", ok, err)
	}
	want := Transition{Kind: "INSTANCE", Instance: "VI_1", State: "MASTER", Priority: 150, At: time.Now().UTC().Truncate(time.Millisecond)}
	if err := st.SaveTransition(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.LoadTransition()
	if !ok || err != nil || got != want {
		t.Fatalf("got %+v ok=%v err=%v", got, ok, err)
	}
}

// A hold makes an up node ineligible (track "1") until it is released or
// its lease ends; a hold of another move is refused; drain and undrain keep it.
func TestHold(t *testing.T) {
	st := Store{Dir: t.TempDir()}
	if _, err := st.SetHold(Hold{For: "c", By: "a", Until: time.Now().Add(time.Minute)}); err == nil {
		t.Fatal("hold of a node without a state: no error")
	}
	if _, _, err := st.Set(Change{To: Up}); err != nil {
		t.Fatal(err)
	}
	track := func() string {
		b, err := os.ReadFile(st.TrackPath())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	s, err := st.SetHold(Hold{For: "c", By: "a", Since: time.Now(), Until: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if s.Eligible() || track() != "1\n" {
		t.Fatalf("held: eligible %v, track %q", s.Eligible(), track())
	}
	if _, err := st.SetHold(Hold{For: "b", By: "d", Until: time.Now().Add(time.Minute)}); err == nil || !strings.Contains(err.Error(), "held for move to c by a") {
		t.Errorf("second move's hold: %v", err)
	}
	if _, err := st.SetHold(Hold{For: "c", By: "a", Until: time.Now().Add(2 * time.Minute)}); err != nil {
		t.Errorf("renewal: %v", err)
	}
	if _, _, err := st.Set(Change{To: Drained}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetHold(Hold{For: "c", By: "a", Until: time.Now().Add(2 * time.Minute)}); err != nil {
		t.Errorf("hold of a drained node: %v", err)
	}
	if _, _, err := st.Set(Change{To: Up}); err != nil {
		t.Fatal(err)
	}
	if cur, _ := st.Load(); cur.Hold == nil || cur.Eligible() {
		t.Fatalf("drain and undrain dropped the hold: %+v", cur)
	}
	if rel, err := st.ReleaseHold("x", ""); err != nil || rel {
		t.Errorf("release of another move: %v %v", rel, err)
	}
	if rel, err := st.ReleaseHold("c", "a"); err != nil || !rel || track() != "0\n" {
		t.Fatalf("release: %v %v track %q", rel, err, track())
	}
	// A lease that ends: not eligible before, eligible after, cleared by ExpireHold.
	if _, err := st.SetHold(Hold{For: "c", By: "a", Until: time.Now().Add(150 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	if exp, _ := st.ExpireHold(time.Now()); exp || track() != "1\n" {
		t.Fatalf("expired early: %v, track %q", exp, track())
	}
	time.Sleep(200 * time.Millisecond)
	if cur, _ := st.Load(); !cur.Eligible() {
		t.Errorf("a hold past its lease still counts")
	}
	if exp, err := st.ExpireHold(time.Now()); err != nil || !exp || track() != "0\n" {
		t.Fatalf("expire: %v %v track %q", exp, err, track())
	}
	if cur, _ := st.Load(); cur.Hold != nil {
		t.Errorf("hold still recorded: %+v", cur.Hold)
	}
}
