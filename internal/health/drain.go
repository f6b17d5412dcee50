package health

import "time"

// DrainStatus is what status and /status show of drains: a drain journal
// (a drain running, or one interrupted and not recovered yet) and the last
// drain's record, with what recovery did when it was interrupted.
type DrainStatus struct {
	Journal *DrainJournal `json:"journal,omitempty"`
	Last    *LastDrain    `json:"last,omitempty"`
	// Interrupted is each promote or follow killed midway, with the
	// command that finishes it.
	Interrupted []string `json:"interrupted_ops,omitempty"`
}

// DrainJournal is a drain journal found in the state directory.
type DrainJournal struct {
	PID        int       `json:"pid"`
	Started    time.Time `json:"started"`
	Step       string    `json:"step"`
	OwnerAlive bool      `json:"owner_alive"`
	Fenced     bool      `json:"fence_issued"` // the fence was (or may have been) sent
	Detail     string    `json:"detail"`
}

// LastDrain is the last drain that did something (last_drain.json).
type LastDrain struct {
	At        time.Time `json:"at"`
	Outcome   string    `json:"outcome"` // drained, refused, interrupted
	Error     string    `json:"error,omitempty"`
	Recovery  string    `json:"recovery,omitempty"`
	Recovered time.Time `json:"recovered_at,omitzero"`
}
