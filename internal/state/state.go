// Package state owns hacheck's state file, the single source of truth that
// `check`, `serve`, the admin verbs and keepalived all read.
//
// Two files live in the state directory:
//
//	state.json        the state itself (see State); written atomically
//	keepalived.track  "0\n" when up, "1\n" otherwise, for keepalived's
//	                  track_file with weight 0 (non-zero puts the VRRP
//	                  instance into FAULT, so the peer takes the VIP at once)
//
// Loading fails closed: a missing, unreadable, corrupt or unknown-version
// state.json is an error, and every caller treats an error as "not healthy".
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"time"
)

// Version is the schema version this build reads and writes.
const Version = 1

// The two values of State.State.
const (
	Up      = "up"
	Drained = "drained"
)

// File names inside the state directory.
const (
	FileName   = "state.json"
	TrackName  = "keepalived.track"
	lockName   = "state.lock"
	opLockName = "op.lock"
)

// Sentinel errors, for errors.Is.
var (
	ErrMissing = errors.New("state file missing")
	ErrCorrupt = errors.New("state file corrupt")
	ErrVersion = errors.New("state file has an unknown version")
)

// State is the content of state.json.
type State struct {
	Version    int       `json:"version"`
	State      string    `json:"state"`
	Reason     string    `json:"reason"`
	ChangedAt  time.Time `json:"changed_at"`
	ChangedBy  string    `json:"changed_by"`
	Generation uint64    `json:"generation"`
	// Forced is true when the last change skipped its preconditions
	// (drain --force, or undrain --force of a Galera node not Synced).
	Forced bool `json:"forced,omitempty"`
	// Via says how the last change was made: "cli", "http" or "notify".
	Via string `json:"via,omitempty"`
	// From is where an HTTP change came from (the client address, or the
	// peer process of the admin unix socket).
	From string `json:"from,omitempty"`
	// Stale is set while this node's server is a stale ex-primary: it
	// lost the primary role other than through a completed drain (the VIP
	// went away while it was writable, or the split-brain guard fenced
	// it), so the new primary may have writes it lacks. A stale node is
	// not eligible for the VIP, whatever State says, until it follows the
	// new primary (`hacheck follow` clears it) or an operator clears it
	// (`hacheck undrain --clear-stale`).
	Stale *Stale `json:"stale_ex_primary,omitempty"`
	// Hold is set while another node moves the primary to a chosen
	// successor and keeps this node out of the election (see Hold).
	Hold *Hold `json:"hold,omitempty"`
}

// Hold makes a node ineligible for the VIP for the duration of a move
// between two other nodes: the node that drains (By) holds every node but
// its successor (For), so that keepalived can elect only the successor.
// It is a lease: it ends by itself at Until, so a drain killed midway never
// leaves a node ineligible for good; the drain releases it earlier.
type Hold struct {
	For    string    `json:"for"` // the successor the move goes to
	By     string    `json:"by"`  // the node that drains
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// ActiveAt reports whether the hold is in effect at now (a nil hold never is).
func (h *Hold) ActiveAt(now time.Time) bool { return h != nil && now.Before(h.Until) }

func (h *Hold) String() string {
	return fmt.Sprintf("held for move to %s by %s until %s", h.For, h.By, h.Until.Format(time.RFC3339))
}

// Stale records why and since when a node is a stale ex-primary.
type Stale struct {
	Since time.Time `json:"since"`
	Why   string    `json:"why"`
}

// IsUp reports whether the state is "up" (an operator's choice; see
// Eligible for what keepalived and load balancers act on).
func (s State) IsUp() bool { return s.State == Up }

// Eligible reports whether the node may hold the VIP: up, not a stale
// ex-primary, and not held for another node's move (a hold past its
// Until no longer counts).
func (s State) Eligible() bool {
	return s.IsUp() && s.Stale == nil && !s.Hold.ActiveAt(time.Now())
}

// Verdict is what the state alone says of this node's health, in one
// line: eligible (reason "up") only for a readable "up" state without a
// stale ex-primary mark or a hold in effect. health.Verdict adds the live
// checks; the state-only `hacheck-check` uses it as it is.
func Verdict(s State, loadErr error) (eligible bool, reason string) {
	if loadErr != nil {
		return false, "state: " + loadErr.Error()
	}
	if !s.IsUp() {
		why := fmt.Sprintf("drained by %s at %s", s.ChangedBy, s.ChangedAt.Format(time.RFC3339))
		if s.Reason != "" {
			why += ": " + s.Reason
		}
		return false, why
	}
	if s.Stale != nil {
		return false, fmt.Sprintf("stale ex-primary since %s (%s): this server may lack the new primary's writes; run `hacheck follow`",
			s.Stale.Since.Format(time.RFC3339), s.Stale.Why)
	}
	if s.Hold.ActiveAt(time.Now()) {
		return false, s.Hold.String() + ": only the successor may take the VIP while the primary moves (the hold ends by itself then)"
	}
	return true, Up
}

// validate checks a decoded state; the error says what is wrong.
func (s State) validate() error {
	if s.Version != Version {
		return fmt.Errorf("%w: version %d, this hacheck reads version %d", ErrVersion, s.Version, Version)
	}
	if s.State != Up && s.State != Drained {
		return fmt.Errorf("%w: state is %q, want %q or %q", ErrCorrupt, s.State, Up, Drained)
	}
	return nil
}

// Store reads and changes the state in one directory.
type Store struct {
	Dir string
}

// Path is the full path of state.json.
func (st Store) Path() string { return filepath.Join(st.Dir, FileName) }

// TrackPath is the full path of keepalived.track.
func (st Store) TrackPath() string { return filepath.Join(st.Dir, TrackName) }

// Load reads state.json. It never returns a usable State together with an
// error: on any error the caller must treat the node as not healthy.
func (st Store) Load() (State, error) {
	b, err := os.ReadFile(st.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w: %s does not exist; this node was never marked up: run `hacheck undrain`", ErrMissing, st.Path())
	}
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	return Decode(b, st.Path())
}

// Decode parses the bytes of a state file; name is used in errors.
func Decode(b []byte, name string) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	if err := s.validate(); err != nil {
		return State{}, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Change describes one requested change of state.
type Change struct {
	To string // Up or Drained
	// ClearStale also clears a stale ex-primary mark (recorded with Reason
	// and By); otherwise the mark is kept across the change.
	ClearStale bool
	Reason     string
	By         string // who asks; Actor() when empty
	Forced     bool
	Via        string
	From       string
}

// Set moves the state to c.To under the lock. It reports whether anything
// changed: setting the state it already has changes nothing and does not
// bump the generation. A missing or corrupt state file is replaced (that is
// how a node is first marked up, and how an operator repairs it). Changed
// with an error means state.json was replaced (the change is made: check
// and serve read it) and what followed it failed: its directory's sync, or
// the track file, which serve repairs.
func (st Store) Set(c Change) (s State, changed bool, err error) {
	if c.To != Up && c.To != Drained {
		return State{}, false, fmt.Errorf("set state: %q is not %q or %q", c.To, Up, Drained)
	}
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if unchanged(cur, lerr, c) {
			s = cur
			return st.writeTrack(cur)
		}
		next := nextState(cur, lerr, c, time.Now())
		replaced, err := st.writeReplaced(next)
		if replaced {
			s, changed = next, true // made, even if what follows failed
		}
		return err
	})
	return s, changed, err
}

// unchanged reports whether c changes nothing of cur (loaded with lerr).
func unchanged(cur State, lerr error, c Change) bool {
	return lerr == nil && cur.State == c.To && (cur.Stale == nil || !c.ClearStale)
}

// nextState is the state c moves cur (loaded with lerr) to, at now.
func nextState(cur State, lerr error, c Change, now time.Time) State {
	next := State{
		Version:    Version,
		State:      c.To,
		Reason:     c.Reason,
		ChangedAt:  now.UTC().Truncate(time.Millisecond),
		ChangedBy:  c.By,
		Generation: cur.Generation + 1,
		Forced:     c.Forced,
		Via:        c.Via,
		From:       c.From,
	}
	if lerr == nil && !c.ClearStale {
		next.Stale = cur.Stale
	}
	if lerr == nil {
		next.Hold = cur.Hold // a hold ends only by its release or its expiry
	}
	if next.ChangedBy == "" {
		next.ChangedBy = Actor()
	}
	if lerr != nil && !errors.Is(lerr, ErrMissing) {
		// The old file is unreadable, so its generation is lost: start
		// past anything it could plausibly have held.
		next.Generation = uint64(now.Unix())
	}
	return next
}

// write saves state.json and then keepalived.track, both atomically.
// state.json goes first: if the process dies between the two, the track
// file is stale but `hacheck check` (the vrrp_script) and `serve` read
// state.json, and `serve` repairs the track file.
func (st Store) write(s State) error {
	_, err := st.writeReplaced(s)
	return err
}

// writeReplaced is write; replaced reports whether state.json was
// replaced: then the change is made (check and serve read it), whatever
// failed after it.
func (st Store) writeReplaced(s State) (replaced bool, err error) {
	data, err := encodeJSON(st.Path(), s)
	if err != nil {
		return false, fmt.Errorf("save state: %w", err)
	}
	if replaced, err = replaceFile(st.Path(), data, 0o644, true); err != nil {
		return replaced, fmt.Errorf("save state: %w", err)
	}
	return true, st.writeTrack(s)
}

// MarkStale marks the node a stale ex-primary (see State.Stale), keeping
// an existing mark's time. It does nothing to a missing or unreadable
// state (that is never eligible anyway).
func (st Store) MarkStale(why string) (marked bool, err error) {
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if lerr != nil || cur.Stale != nil {
			return nil
		}
		cur.Stale = &Stale{Since: time.Now().UTC().Truncate(time.Millisecond), Why: why}
		cur.Generation++
		marked = true
		return st.write(cur)
	})
	return marked, err
}

// ClearStale removes the stale ex-primary mark, recording how (the
// reason) and who; it reports whether there was one.
func (st Store) ClearStale(how, by string) (cleared bool, err error) {
	err = st.Locked(func() error {
		cur, lerr := st.Load()
		if lerr != nil || cur.Stale == nil {
			return nil
		}
		if by == "" {
			by = Actor()
		}
		cur.Stale, cur.Reason, cur.ChangedBy = nil, how, by
		cur.ChangedAt = time.Now().UTC().Truncate(time.Millisecond)
		cur.Generation++
		cleared = true
		return st.write(cur)
	})
	return cleared, err
}

// TrackValue is what keepalived.track must hold for a state load result:
// "0" only for a valid state that is eligible (up, not a stale
// ex-primary), "1" for anything else.
func TrackValue(s State, loadErr error) string {
	if loadErr == nil && s.Eligible() {
		return "0\n"
	}
	return "1\n"
}

func (st Store) writeTrack(s State) error {
	return st.syncTrack(TrackValue(s, nil))
}

// SyncTrack makes keepalived.track agree with state.json (as loaded now,
// failing closed) and reports whether it had to rewrite it. `serve` calls
// it on start and on every state change, which repairs a track file left
// stale by a crash between the two writes.
func (st Store) SyncTrack() (repaired bool, err error) {
	err = st.Locked(func() error {
		s, lerr := st.Load()
		want := TrackValue(s, lerr)
		have, rerr := os.ReadFile(st.TrackPath())
		if rerr == nil && string(have) == want {
			return nil
		}
		repaired = true
		return st.syncTrack(want)
	})
	return repaired, err
}

func (st Store) syncTrack(want string) error {
	if have, err := os.ReadFile(st.TrackPath()); err == nil && string(have) == want {
		return nil
	}
	// Durable: keepalived reads an empty file as 0 (up), and it reads this
	// file at boot before serve can repair it.
	if err := WriteFileAtomic(st.TrackPath(), []byte(want), 0o644); err != nil {
		return fmt.Errorf("save track file: %w", err)
	}
	return nil
}

// Actor names who is making a change: the sudo user when run through sudo,
// else the current user, followed by @host.
func Actor() string {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		} else {
			name = fmt.Sprintf("uid %d", os.Getuid())
		}
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return name + "@" + host
}
