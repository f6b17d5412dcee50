package health

import (
	"fmt"
	"time"
)

// RoleFacts is what was read, now, of this node's role: the VIP, its
// server, and what hacheck last decided. DecideRole judges it.
type RoleFacts struct {
	At time.Time
	// VIPConfigured is false when no VIP is configured (no node is a
	// primary by holding it then; Primary is never set).
	VIPConfigured bool
	HoldsVIP      bool
	VIPErr        error
	// ReadOnly of this node's server; ReadErr when it could not be read.
	ReadOnly bool
	ReadErr  error
	// Replica: both replica threads running without an error; Source and
	// SecondsBehind describe it. ReplicaErr when the status could not be
	// read.
	Replicating   bool
	Source        string
	SecondsBehind *int64
	ReplicaErr    error
	// Stale: the state marks this node a stale ex-primary.
	Stale bool
	// LastDecision is the detail of the last recorded database decision
	// (notify or promote), said when the VIP holder is read-only.
	LastDecision string
	// PeerAnswers: the peer's server answered just now (asked only when
	// this node holds the VIP and is read-only); nil when not asked.
	PeerAnswers *bool
	// PeerConfigured is false without peer.mysql_dsn.
	PeerConfigured bool
}

// Role is this node's database role as read now: the "role" of /status
// and `hacheck status`, and what /primary and /replica answer.
type Role struct {
	At            time.Time `json:"at"`
	HoldsVIP      bool      `json:"holds_vip"`
	VIPError      string    `json:"vip_error,omitempty"`
	ReadOnly      *bool     `json:"read_only"` // null: could not be read
	Error         string    `json:"error,omitempty"`
	Replicating   bool      `json:"replicating"`
	Source        string    `json:"source,omitempty"`
	SecondsBehind *int64    `json:"seconds_behind,omitempty"`
	Stale         bool      `json:"stale_ex_primary,omitempty"`
	// Primary: holds the VIP, its server writable, not a stale ex-primary.
	Primary bool `json:"primary"`
	// AcceptingWrites is false for a VIP holder whose server does not take
	// writes; Writes says so in one line, with the command that is safe now.
	AcceptingWrites bool   `json:"accepting_writes"`
	Writes          string `json:"writes"`
}

// DecideRole turns the facts into the role and one line about writes. A
// node that holds the VIP and whose server is read-only (or unreadable)
// says "holds the VIP, NOT accepting writes", why, and the one command
// that is safe now: `hacheck follow` for a stale ex-primary; plain
// `hacheck promote` while the peer's server answers (it fences and
// catches up as needed); `hacheck promote --force` only when the peer
// cannot be reached, with what that loses.
func DecideRole(f RoleFacts) Role {
	r := Role{At: f.At, HoldsVIP: f.HoldsVIP, Replicating: f.Replicating, Source: f.Source, SecondsBehind: f.SecondsBehind, Stale: f.Stale}
	if f.VIPErr != nil {
		r.VIPError = f.VIPErr.Error()
	}
	if f.ReadErr != nil {
		r.Error = f.ReadErr.Error()
	} else {
		ro := f.ReadOnly
		r.ReadOnly = &ro
	}
	if f.ReplicaErr != nil && r.Error == "" {
		r.Error = f.ReplicaErr.Error()
	}
	writable := f.ReadErr == nil && !f.ReadOnly
	switch {
	case f.VIPErr != nil:
		r.Writes = "whether this node holds the VIP is unknown: " + f.VIPErr.Error()
	case !f.HoldsVIP && f.VIPConfigured:
		r.AcceptingWrites = false
		switch {
		case f.Replicating:
			r.Writes = "standby: does not hold the VIP; replicating from " + f.Source
		case f.Stale:
			r.Writes = "stale ex-primary: does not hold the VIP and does not replicate; run `hacheck follow`"
		default:
			r.Writes = "does not hold the VIP"
		}
	case writable:
		r.AcceptingWrites = true
		r.Primary = f.VIPConfigured && f.HoldsVIP && !f.Stale
		r.Writes = "accepting writes"
		if f.VIPConfigured {
			r.Writes = "holds the VIP and is accepting writes"
		}
	default:
		why := "its server is read-only"
		if f.ReadErr != nil {
			why = "its server cannot be read: " + f.ReadErr.Error()
		}
		if f.LastDecision != "" {
			why += " (last decision: " + f.LastDecision + ")"
		}
		r.Writes = fmt.Sprintf("holds the VIP, NOT accepting writes: %s; run %s", why, safeCommand(f))
		if !f.VIPConfigured {
			r.Writes = fmt.Sprintf("NOT accepting writes: %s", why)
		}
	}
	return r
}

// safeCommand names the one command that is safe for a VIP holder whose
// server does not take writes.
func safeCommand(f RoleFacts) string {
	switch {
	case f.Stale:
		return "`hacheck follow` (this server may lack the new primary's writes)"
	case f.PeerAnswers != nil && !*f.PeerAnswers:
		return "`hacheck promote --force` only if the peer's server is gone for good: it loses every write the peer had not replicated here (serve retries the safe `hacheck promote` until the peer answers)"
	case !f.PeerConfigured:
		return "`hacheck promote`"
	}
	return "`hacheck promote` (the peer's server answers: it is fenced and its writes applied here first)"
}
