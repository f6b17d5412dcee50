package state

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStaleTemp(t *testing.T) {
	now := time.Now()
	alive := func(pid int) bool { return pid == 100 }
	for _, tc := range []struct {
		name string
		age  time.Duration
		want bool
	}{
		{".state.json.tmp-100-123456", time.Second, false},           // a live writer's: about to be renamed
		{".state.json.tmp-200-123456", 0, true},                      // its writer is gone
		{".last_drain.json.tmp-200-99", 10 * time.Millisecond, true}, // same, any base
		{".state.json.tmp-100-123456", 2 * staleTempAge, true},       // PID reused, or a stuck writer
		{".state.json.tmp-123456", time.Second, false},               // no PID (older hacheck): by age only
		{".state.json.tmp-123456", 2 * staleTempAge, true},
		{".keepalived.track.tmp-x-1", time.Second, false}, // not a PID
	} {
		if got := staleTemp(tc.name, now.Add(-tc.age), now, alive); got != tc.want {
			t.Errorf("staleTemp(%q, %s old) = %v, want %v", tc.name, tc.age, got, tc.want)
		}
	}
	if got := tempPID(filepath.Base(strings.Replace(tempPattern("state.json"), "*", "42", 1))); got != os.Getpid() {
		t.Errorf("tempPID of our own pattern = %d, want %d", got, os.Getpid())
	}
}

// deadPID is the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("/bin/true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// The next write removes a dead writer's temp file at once, and leaves a
// live writer's (here: this process's) alone.
func TestNextWriteRemovesDeadWritersTemps(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, ".last_drain.json.tmp-"+strconv.Itoa(deadPID(t))+"-1")
	live := filepath.Join(dir, ".last_drain.json.tmp-"+strconv.Itoa(os.Getpid())+"-2")
	other := filepath.Join(dir, ".other.json.tmp-"+strconv.Itoa(deadPID(t))+"-3") // another file's: not this write's business
	for _, p := range []string{dead, live, other} {
		os.WriteFile(p, []byte("{half"), 0o644)
	}
	if err := SaveJSON(filepath.Join(dir, "last_drain.json"), map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("a dead writer's temp file survived the next write")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live writer's temp file was removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("the temp file of another file was removed by this write")
	}
	// The state lock's pass removes every stale one in the state directory.
	st := Store{Dir: dir}
	if _, _, err := st.Set(Change{To: Up}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Error("a dead writer's temp file survived the state lock's pass")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live writer's temp file was removed by the state lock's pass")
	}
}

// A writer killed with SIGKILL in the middle of its writes leaves at most
// its temp files, and the next write removes them.
func TestKilledWritersTempsRemovedByNextWrite(t *testing.T) {
	if dir := os.Getenv("HACHECK_TEMP_WRITER"); dir != "" {
		for i := 0; ; i++ {
			if err := SaveJSON(filepath.Join(dir, "last_drain.json"), map[string]int{"i": i}); err != nil {
				os.Exit(3)
			}
		}
	}
	dir := t.TempDir()
	rounds, left := 20, 0
	for range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWritersTempsRemovedByNextWrite$")
		cmd.Env = append(os.Environ(), "HACHECK_TEMP_WRITER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, "last_drain.json")); err == nil {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(20000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait() // reaped: its PID is gone
		if len(temps(t, dir)) > 0 {
			left++
		}
		if err := SaveJSON(filepath.Join(dir, "last_drain.json"), map[string]int{"parent": 1}); err != nil {
			t.Fatal(err)
		}
		if ts := temps(t, dir); len(ts) > 0 {
			t.Fatalf("temp files after the next write: %v", ts)
		}
	}
	t.Logf("%d of %d kills left a temp file; the next write removed every one", left, rounds)
}

func temps(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}
