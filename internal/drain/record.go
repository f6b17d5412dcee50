package drain

import (
	"path/filepath"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/state"
)

// RecordName is the file, in the state directory, that keeps the outcome
// and phase durations of the last drain that did something (drained or
// refused), for `serve`'s /metrics and for post-mortems.
const RecordName = "last_drain.json"

// Record is the content of last_drain.json.
type Record struct {
	At       time.Time     `json:"at"`
	Outcome  string        `json:"outcome"` // drained, refused, or interrupted (recovered by a later hacheck)
	Error    string        `json:"error,omitempty"`
	By       string        `json:"by"`
	Via      string        `json:"via"`
	Reason   string        `json:"reason"`
	Forced   bool          `json:"forced,omitempty"`
	Failures []string      `json:"failures,omitempty"`
	Phases   []PhaseRecord `json:"phases"`
	Total    float64       `json:"total_seconds"`
	// Killed lists the connections the fence killed because they held it
	// up (mysql.fence_kill).
	Killed []db.KilledConn `json:"killed,omitempty"`
	// An interrupted drain: the step it reached, when a later hacheck
	// recovered it and what that did ("interrupted drain rolled back: ...").
	Step      string    `json:"step,omitempty"`
	Recovered time.Time `json:"recovered_at,omitzero"`
	Recovery  string    `json:"recovery,omitempty"`
}

// PhaseRecord is one phase of Record, in seconds.
type PhaseRecord struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// NewRecord summarizes one drain.
func NewRecord(started time.Time, opt Options, res Result, err error) Record {
	r := Record{At: started.UTC(), Outcome: "drained", By: opt.By, Via: opt.Via, Reason: opt.Reason, Forced: opt.Force,
		Phases: []PhaseRecord{}, Total: time.Since(started).Seconds()}
	if r.By == "" {
		r.By = state.Actor()
	}
	if res.Outcome == Refused {
		r.Outcome = "refused"
	}
	if err != nil {
		r.Error = err.Error()
	}
	for _, f := range res.Failures {
		r.Failures = append(r.Failures, f.Name+": "+f.Detail)
	}
	for _, p := range res.Phases {
		r.Phases = append(r.Phases, PhaseRecord{Name: p.Name, Seconds: p.Took.Seconds()})
	}
	return r
}

// killReporter is a step that killed connections (the fence).
type killReporter interface {
	KilledConns() []db.KilledConn
}

// killedBy collects the connections the plan's steps killed.
func killedBy(p Plan) []db.KilledConn {
	var out []db.KilledConn
	for _, s := range p.Steps {
		if k, ok := s.(killReporter); ok {
			out = append(out, k.KilledConns()...)
		}
	}
	return out
}

// SaveRecord writes last_drain.json atomically.
func SaveRecord(st state.Store, r Record) error {
	return state.SaveJSON(filepath.Join(st.Dir, RecordName), r)
}

// LoadRecord reads last_drain.json; ok is false when there is none yet.
func LoadRecord(st state.Store) (r Record, ok bool, err error) {
	ok, err = state.LoadJSON(filepath.Join(st.Dir, RecordName), &r)
	return r, ok, err
}
