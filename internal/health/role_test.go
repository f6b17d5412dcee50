package health

import (
	"errors"
	"strings"
	"testing"
)

func TestDecideRole(t *testing.T) {
	yes, no := true, false
	lag := int64(3)
	for _, tt := range []struct {
		name      string
		f         RoleFacts
		primary   bool
		accepting bool
		want      string
	}{
		{"primary", RoleFacts{VIPConfigured: true, HoldsVIP: true, PeerConfigured: true}, true, true, "holds the VIP and is accepting writes"},
		{"standby", RoleFacts{VIPConfigured: true, ReadOnly: true, Replicating: true, Source: "192.0.2.11:3306", SecondsBehind: &lag}, false, false, "replicating from 192.0.2.11:3306"},
		{"stale, no VIP", RoleFacts{VIPConfigured: true, ReadOnly: true, Stale: true}, false, false, "run `hacheck follow`"},
		{"VIP, read-only, peer answers", RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadOnly: true, PeerConfigured: true, PeerAnswers: &yes, LastDecision: "refused: old primary cannot be reached"},
			false, false, "NOT accepting writes: its server is read-only (last decision: refused: old primary cannot be reached); run `hacheck promote` (the peer's server answers"},
		{"VIP, read-only, peer gone", RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadOnly: true, PeerConfigured: true, PeerAnswers: &no},
			false, false, "run `hacheck promote --force` only if the peer's server is gone for good: it loses every write"},
		{"VIP, read-only, stale", RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadOnly: true, Stale: true, PeerConfigured: true, PeerAnswers: &yes}, false, false, "run `hacheck follow`"},
		{"VIP, server unreadable", RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadErr: errors.New("i/o timeout"), PeerConfigured: true, PeerAnswers: &yes}, false, false, "cannot be read: i/o timeout"},
		{"VIP, writable but stale", RoleFacts{VIPConfigured: true, HoldsVIP: true, Stale: true}, false, true, "accepting writes"},
		{"VIP unreadable", RoleFacts{VIPConfigured: true, VIPErr: errors.New("no such interface")}, false, false, "unknown: no such interface"},
		{"no VIP configured, writable", RoleFacts{}, false, true, "accepting writes"},
	} {
		r := DecideRole(tt.f)
		if r.Primary != tt.primary || r.AcceptingWrites != tt.accepting || !strings.Contains(r.Writes, tt.want) {
			t.Errorf("%s: %+v; want primary=%v accepting=%v with %q", tt.name, r, tt.primary, tt.accepting, tt.want)
		}
	}
}
