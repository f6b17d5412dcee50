package drain

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/state"
)

// JournalName is the drain journal, in the state directory. A drain that
// will change the database writes it before its preconditions (its intent:
// the steps, who runs them), updates it before each step and when the
// fence's saved state and the frozen position are known, and removes it
// once the flip is done or the steps are undone. A journal found without a
// live owner is an interrupted drain: see Decide and Recover.
const JournalName = "drain.journal.json"

// progressName holds the drain's marks once the journal holds an undo
// (the step reached, the frozen position): written without fsync, beside
// the journal, never over it, so that the undo, written durably, cannot
// be replaced by a copy a power loss leaves empty. LoadJournal reads both.
const progressName = "drain.progress.json"

// progress is the content of drain.progress.json.
type progress struct {
	Started time.Time `json:"started"` // the journal's, to match it
	Updated time.Time `json:"updated"`
	Step    string    `json:"step"`
	Frozen  string    `json:"frozen,omitempty"`
}

// StepPreconditions is the journal's step while the preconditions run,
// before any step.
const StepPreconditions = "preconditions"

// JournalVersion is the schema version of the journal.
const JournalVersion = 1

// Journal is the content of drain.journal.json.
type Journal struct {
	Version int       `json:"version"`
	Op      string    `json:"op"` // "drain"
	Owner   Owner     `json:"owner"`
	Started time.Time `json:"started"`
	Updated time.Time `json:"updated"`
	Reason  string    `json:"reason,omitempty"`
	By      string    `json:"by"`
	Via     string    `json:"via"`
	// Plan is what the drain will do, in order: its steps, then "flip".
	Plan []string `json:"plan"`
	// Step is the one reached: the step running (or about to), or "flip".
	Step string `json:"step"`
	// Generation is the generation of state.json (up) when the drain
	// started: a later one means the flip happened.
	Generation uint64 `json:"generation"`
	// Fence is what undoing the fence must put back: saved while the
	// preconditions run (or, when the server changed since, just before
	// the fence is issued), and never issued before it is saved.
	Fence *FenceIntent `json:"fence,omitempty"`
	// Frozen is the GTID position read once the fence landed.
	Frozen string `json:"frozen_position,omitempty"`
	// Successor is the node a drain among several nodes moves the primary
	// to; Holds the other nodes it asks to stay out of the election,
	// written before the first hold is asked for.
	Successor string       `json:"successor,omitempty"`
	Holds     []HoldIntent `json:"holds,omitempty"`
}

// FenceMaybeSent reports whether the drain may have sent its fence: it
// saved what undoing it puts back, and it reached the fence step (the fence
// is sent only in it; its mark is written before the step starts, and
// survives a kill -9). A drain killed before it, with its intent saved
// while the preconditions ran, sent nothing. (After a power loss the mark
// may show an earlier step; the server restarted then too, and a fence
// set with SET GLOBAL does not survive a restart.)
func (j Journal) FenceMaybeSent() bool {
	if j.Fence == nil || j.Step == StepPreconditions {
		return false
	}
	fence := slices.Index(j.Plan, "fence")
	step := slices.Index(j.Plan, j.Step)
	return fence < 0 || step < 0 || step >= fence
}

// HoldIntent is one hold a drain among several nodes asks for: Node is
// kept ineligible for the move to For until Until, unless released.
type HoldIntent struct {
	Node  string    `json:"node"`
	For   string    `json:"for"`
	By    string    `json:"by"`
	Until time.Time `json:"until"`
}

// FenceIntent is the state of this node's server saved before the fence,
// as the journal keeps it.
type FenceIntent struct {
	Server        string `json:"server"`
	Dialect       string `json:"dialect"`
	ReadOnly      bool   `json:"read_only"`
	SuperReadOnly bool   `json:"super_read_only,omitempty"`
}

// NewFenceIntent records prior, the state of server before the fence.
func NewFenceIntent(server string, prior db.ReadOnlyState) FenceIntent {
	return FenceIntent{Server: server, Dialect: prior.Dialect.String(), ReadOnly: prior.ReadOnly, SuperReadOnly: prior.SuperReadOnly}
}

// Prior is the saved state as the db package reads it.
func (f FenceIntent) Prior() db.ReadOnlyState {
	st := db.ReadOnlyState{Dialect: db.MariaDB, ReadOnly: f.ReadOnly, SuperReadOnly: f.SuperReadOnly}
	if f.Dialect == db.MySQL.String() {
		st.Dialect = db.MySQL
	}
	return st
}

// Owner is the process that writes a journal (see state.Owner).
type Owner = state.Owner

// Self and Look are state's: the running process, and what is known now
// of a journal's owner.
var (
	Self = state.Self
	Look = state.Look
)

// Action is what the next hacheck does about a journal.
type Action int

const (
	NoJournal   Action = iota // nothing was interrupted
	InProgress                // the owner is alive: a drain is running; leave it alone
	RollBack                  // interrupted before the flip: undo the fence, the state stays up
	Complete                  // interrupted after the flip: nothing to undo, complete the record
	LeaveFenced               // the state is unusable: do not unfence, complete the record
)

func (a Action) String() string {
	switch a {
	case NoJournal:
		return "none"
	case InProgress:
		return "in_progress"
	case RollBack:
		return "rolled_back"
	case Complete:
		return "completed"
	case LeaveFenced:
		return "left_fenced"
	}
	return "unknown"
}

// Decision is what recovery does about one journal, and why.
type Decision struct {
	Action  Action
	Unfence bool // RollBack: the fence was (or may have been) issued, put back Fence
	// Release: RollBack of a drain among several nodes that had asked for
	// holds: release them (they would end by their lease anyway).
	Release bool
	Why     string
}

// Decide is the recovery rule for a journal j found when its owner is
// alive or not (ownerAlive), with state.json as loaded now (cur, curErr).
// It is pure; Recover carries it out under the operation lock.
//
//   - owner alive: a drain is running: InProgress, touch nothing;
//   - state.json up: the flip did not happen (it is one atomic rename), so
//     the VIP never moved: RollBack, undoing the fence if the journal says
//     it was about to be issued, exactly as a refused drain does;
//   - state.json drained: the flip happened (keepalived moves the VIP, the
//     peer is promoted): Complete, nothing to undo; the fence stays;
//   - state.json missing or corrupt: the node is not eligible for the VIP
//     and whether the flip happened is unknown: LeaveFenced.
func Decide(j Journal, ownerAlive bool, cur state.State, curErr error) Decision {
	if ownerAlive {
		return Decision{Action: InProgress, Why: fmt.Sprintf("a drain is running (%s, step %s)", j.Owner, j.Step)}
	}
	if curErr != nil {
		return Decision{Action: LeaveFenced, Why: fmt.Sprintf("state.json is unusable (%v): whether the flip happened is unknown, so the server is left as it is", curErr)}
	}
	if !cur.IsUp() {
		why := fmt.Sprintf("the flip had happened (state %s, generation %d): nothing to undo", cur.State, cur.Generation)
		if len(j.Holds) > 0 {
			why += fmt.Sprintf("; the holds on the other nodes end by their lease (%s), and the replicas that still follow this node must be repointed to %s: run `hacheck follow` on each", holdNames(j.Holds), j.Successor)
		}
		return Decision{Action: Complete, Why: why}
	}
	d := Decision{Action: RollBack, Unfence: j.FenceMaybeSent(), Release: len(j.Holds) > 0}
	if d.Unfence {
		d.Why = fmt.Sprintf("killed at step %s, before the flip (state up, generation %d): the VIP never moved, so the fence is undone", j.Step, cur.Generation)
	} else {
		d.Why = fmt.Sprintf("killed at step %s, before the fence and the flip: nothing to undo", j.Step)
	}
	return d
}

func holdNames(hs []HoldIntent) string {
	var b []byte
	for i, h := range hs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, fmt.Sprintf("%s until %s", h.Node, h.Until.Format(time.RFC3339))...)
	}
	return string(b)
}

// ErrNoJournal is returned by LoadJournal when there is none.
var ErrNoJournal = errors.New("no drain journal")

// LoadJournal reads drain.journal.json.
func LoadJournal(st state.Store) (Journal, error) {
	var j Journal
	// Empty after a power loss is no journal: until the first undo is
	// written durably, nothing was done that needs one.
	ok, err := state.LoadMark(journalPath(st), &j)
	if err != nil {
		return Journal{}, fmt.Errorf("read drain journal: %w", err)
	}
	if !ok {
		return Journal{}, ErrNoJournal
	}
	if j.Version != JournalVersion {
		return Journal{}, fmt.Errorf("read drain journal: unknown version %d", j.Version)
	}
	// The marks are only shown: an unreadable or stale progress file is
	// ignored.
	var p progress
	if ok, err := state.LoadMark(progressPath(st), &p); err == nil && ok && p.Started.Equal(j.Started) {
		j.Step, j.Updated = p.Step, p.Updated
		if p.Frozen != "" {
			j.Frozen = p.Frozen
		}
	}
	return j, nil
}

func progressPath(st state.Store) string { return filepath.Join(st.Dir, progressName) }

func journalPath(st state.Store) string { return filepath.Join(st.Dir, JournalName) }

// removeJournal deletes the journal durably (the directory is synced by
// the next atomic write; a journal that reappears after a power loss is
// recovered again, which is idempotent).
func removeJournal(st state.Store) error {
	os.Remove(progressPath(st)) // only shown; a leftover is ignored (another Started)
	if err := os.Remove(journalPath(st)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove drain journal: %w", err)
	}
	return nil
}

// JournalWriter keeps the journal of one running drain. Run starts it; the
// steps that know what undoing them needs (the fence) report through
// Fence and Frozen. Its methods are safe to call from the steps; before
// Run has begun the journal (and after it is done) they do nothing.
type JournalWriter struct {
	mu     sync.Mutex
	st     state.Store
	j      Journal
	active bool
	// durable: the journal file holds an undo, written durably; marks go
	// to the progress file from then on.
	durable bool
}

func (w *JournalWriter) begin(st state.Store, opt Options, steps []Step, gen uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now().UTC()
	w.st = st
	w.j = Journal{Version: JournalVersion, Op: "drain", Owner: Self(), Started: now, Updated: now,
		Reason: opt.Reason, By: opt.By, Via: opt.Via, Generation: gen, Step: StepPreconditions}
	if w.j.By == "" {
		w.j.By = state.Actor()
	}
	for _, s := range steps {
		w.j.Plan = append(w.j.Plan, s.Name())
	}
	w.j.Plan = append(w.j.Plan, "flip")
	w.active, w.durable = true, false
	// A mark: every step that acts writes its own intent durably first
	// (the fence's prior state, the holds), so after a power loss before
	// that there is nothing to undo.
	return w.markLocked()
}

// saveLocked writes the journal durably: what an undo needs (the fence's
// prior state, the holds) must be on disk before the step that acts on
// it.
func (w *JournalWriter) saveLocked() error {
	if !w.active {
		return nil
	}
	w.j.Updated = time.Now().UTC()
	if err := state.SaveJSON(journalPath(w.st), w.j); err != nil {
		return fmt.Errorf("write drain journal: %w", err)
	}
	w.durable = true
	return nil
}

// markLocked records what no undo needs (the drain's start, the step
// reached, the frozen position) without fsync (state.ReplaceJSON): it
// survives this process being killed. Before the first undo the journal
// itself is written (a power loss may leave it empty, which reads as no
// journal: nothing needed undoing yet); after it, the progress file
// beside it (after a power loss the step shown may be the one before).
// Each fsync costs a millisecond or more on a disk, on the path of a move.
func (w *JournalWriter) markLocked() error {
	if !w.active {
		return nil
	}
	w.j.Updated = time.Now().UTC()
	var err error
	if w.durable {
		err = state.ReplaceJSON(progressPath(w.st), progress{Started: w.j.Started, Updated: w.j.Updated, Step: w.j.Step, Frozen: w.j.Frozen})
	} else {
		err = state.ReplaceJSON(journalPath(w.st), w.j)
	}
	if err != nil {
		return fmt.Errorf("write drain journal: %w", err)
	}
	return nil
}

func (w *JournalWriter) step(name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.j.Step = name
	return w.markLocked()
}

// Fence records, before the fence is issued, the state it must put back.
// An error means the intent is not durable: the fence must not be issued.
func (w *JournalWriter) Fence(server string, prior db.ReadOnlyState) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := NewFenceIntent(server, prior)
	w.j.Fence = &f
	return w.saveLocked()
}

// Holds records, before the first hold is asked for, the successor and
// every hold the drain will ask for. An error means the intent is not
// durable: no hold must be asked for.
func (w *JournalWriter) Holds(successor string, holds []HoldIntent) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.j.Successor, w.j.Holds = successor, holds
	return w.saveLocked()
}

// Frozen records the frozen GTID position.
func (w *JournalWriter) Frozen(pos string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.j.Frozen = pos
	return w.markLocked()
}

// done removes the journal: the flip is done, or the steps are undone.
func (w *JournalWriter) done() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.active {
		return nil
	}
	w.active = false
	return removeJournal(w.st)
}
