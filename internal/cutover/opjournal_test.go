package cutover

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/state"
)

func TestInterruptedOps(t *testing.T) {
	dir := t.TempDir()
	// A running follow (this process): not interrupted.
	w, err := BeginOp(dir, OpFollow, "check")
	if err != nil {
		t.Fatal(err)
	}
	w.Step("change-source")
	if got, err := Interrupted(dir); err != nil || len(got) != 0 {
		t.Fatalf("a running follow listed as interrupted: %+v %v", got, err)
	}
	// A promote whose process has exited: interrupted, with its command.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := state.Self()
	dead.PID = cmd.Process.Pid
	if err := state.SaveJSON(opJournalPath(dir, OpPromote), OpJournal{Version: 1, Op: OpPromote, Owner: dead, Step: "promote"}); err != nil {
		t.Fatal(err)
	}
	got, err := Interrupted(dir)
	if err != nil || len(got) != 1 || got[0].Op != OpPromote || got[0].Command != "hacheck promote" || !strings.Contains(got[0].String(), "INTERRUPTED: promote") {
		t.Fatalf("Interrupted = %+v, %v", got, err)
	}
	w.Done()
	if _, err := os.Stat(opJournalPath(dir, OpFollow)); !os.IsNotExist(err) {
		t.Fatalf("follow journal left after Done: %v", err)
	}
}
