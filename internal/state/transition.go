package state

import (
	"os"
	"path/filepath"
	"time"
)

// TransitionName is the file, in the state directory, holding the last
// keepalived transition that `hacheck notify` saw.
const TransitionName = "keepalived.json"

// Transition is one keepalived notify event as `hacheck notify` received
// it: notify SCRIPT is called with INSTANCE|GROUP, the name, the new state
// (MASTER, BACKUP, FAULT, STOP) and the priority.
type Transition struct {
	Kind     string    `json:"kind"` // INSTANCE or GROUP
	Instance string    `json:"instance"`
	State    string    `json:"state"`
	Priority int       `json:"priority"`
	At       time.Time `json:"at"`
}

// SaveTransition records t atomically.
func (st Store) SaveTransition(t Transition) error {
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		return err
	}
	return SaveJSON(filepath.Join(st.Dir, TransitionName), t)
}

// LoadTransition reads the last recorded transition; ok is false when none
// was recorded yet.
func (st Store) LoadTransition() (t Transition, ok bool, err error) {
	ok, err = LoadJSON(filepath.Join(st.Dir, TransitionName), &t)
	return t, ok, err
}
