package cutover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/state"
)

// Ops that keep an intent journal (<state_dir>/<op>.journal.json) while
// they change the server: promote (notify MASTER or `hacheck promote`) and
// follow. Unlike a drain, what they leave when killed is not undone: each
// is made to be run again (both re-read everything and refuse when it is
// not safe), so the journal only makes the interruption visible, with the
// command that finishes it (see Interrupted).
const (
	OpPromote = "promote"
	OpFollow  = "follow"
	// OpMove is what a drain among several nodes does after its flip:
	// wait for the successor, release the holds, repoint the replicas.
	OpMove = "move"
)

// OpJournal is the content of <op>.journal.json.
type OpJournal struct {
	Version int         `json:"version"`
	Op      string      `json:"op"`
	Owner   state.Owner `json:"owner"`
	Started time.Time   `json:"started"`
	Updated time.Time   `json:"updated"`
	Step    string      `json:"step"`
}

func opJournalPath(dir, op string) string { return filepath.Join(dir, op+".journal.json") }

// OpWriter keeps the journal of one running promote or follow; a nil
// *OpWriter does nothing.
type OpWriter struct {
	mu  sync.Mutex
	dir string
	j   OpJournal
}

// BeginOp writes the intent of op before it changes anything. A promote's
// or a follow's journal is written without fsync (state.ReplaceJSON): it
// only shows that the op was interrupted, nothing acts on it, and the
// server it was changing is on this machine, restarted by the same power
// loss; its fsyncs were up to 16 ms of a promotion here. A move's journal
// is durable: the replicas it repoints are on other machines, and it
// runs after the VIP has moved, so its fsyncs cost the writes nothing.
func BeginOp(dir, op, step string) (*OpWriter, error) {
	now := time.Now().UTC()
	w := &OpWriter{dir: dir, j: OpJournal{Version: 1, Op: op, Owner: state.Self(), Started: now, Updated: now, Step: step}}
	if err := state.RemoveTemps(dir, time.Minute, op+".journal.json"); err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, fmt.Errorf("write %s journal: %w", op, err)
	}
	return w, nil
}

// Step records the step op is about to take.
func (w *OpWriter) Step(step string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.j.Step, w.j.Updated = step, time.Now().UTC()
	w.save() // best effort: the intent is already down
}

// save writes the journal, durably for a move (see BeginOp).
func (w *OpWriter) save() error {
	if w.j.Op == OpMove {
		return state.SaveJSON(opJournalPath(w.dir, w.j.Op), w.j)
	}
	return state.ReplaceJSON(opJournalPath(w.dir, w.j.Op), w.j)
}

// Done removes the journal: op ended, and its caller reports how.
func (w *OpWriter) Done() {
	if w == nil {
		return
	}
	os.Remove(opJournalPath(w.dir, w.j.Op))
}

// Interruption is an op journal whose owner is gone.
type Interruption struct {
	Op      string
	Step    string
	Owner   state.Owner
	Command string // the command that finishes it safely
}

func (i Interruption) String() string {
	if i.Op == OpMove {
		return fmt.Sprintf("INTERRUPTED: the move after a drain (%s) ended at step %s without finishing; the holds on the other nodes end by their lease; on each other replica still replicating from this node run `%s` (it follows the writable primary among its peers)", i.Owner, i.Step, i.Command)
	}
	return fmt.Sprintf("INTERRUPTED: %s (%s) ended at step %s without finishing; run `%s` (it re-checks everything and refuses when unsafe)", i.Op, i.Owner, i.Step, i.Command)
}

// safeCommand is what finishes an interrupted op: running it again.
func safeCommand(op string) string {
	switch op {
	case OpPromote:
		return "hacheck promote"
	case OpFollow, OpMove:
		return "hacheck follow"
	}
	return "hacheck status"
}

// Interrupted lists the op journals in dir whose owner is gone (a live
// owner is a promote or follow still running). The journal stays until
// the op is run again and ends.
func Interrupted(dir string) ([]Interruption, error) {
	var out []Interruption
	var errs []error
	for _, op := range []string{OpPromote, OpFollow, OpMove} {
		var j OpJournal
		ok, err := state.LoadMark(opJournalPath(dir, op), &j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok || j.Owner.Alive(state.Look(j.Owner)) {
			continue
		}
		out = append(out, Interruption{Op: op, Step: j.Step, Owner: j.Owner, Command: safeCommand(op)})
	}
	return out, errors.Join(errs...)
}

// beginPromote writes the promote journal; a failure to write it is
// logged, not fatal: the promotion matters more than its journal.
func (n *Notifier) beginPromote() *OpWriter {
	w, err := BeginOp(n.Dir, OpPromote, "promote")
	if err != nil && n.Log != nil {
		n.Log.Warn("promote: could not write its journal", "err", err)
	}
	return w
}
