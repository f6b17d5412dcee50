package check

import (
	"errors"
	"strings"
	"testing"
)

func TestGaleraDrainVerdict(t *testing.T) {
	local := GaleraFacts{Galera: true, LocalState: 4, StateComment: "Synced", ClusterStatus: "Primary", ClusterSize: 3, Ready: true, StateUUID: "u1"}
	member := func(addr string, change func(*GaleraFacts)) GaleraMember {
		f := local
		if change != nil {
			change(&f)
		}
		return GaleraMember{Addr: addr, Facts: f}
	}
	synced := member("b:3306", nil)
	synced2 := member("c:3306", nil)
	desynced := member("c:3306", func(f *GaleraFacts) { f.LocalState, f.StateComment, f.Desync = 2, "Donor/Desynced", true })
	donor := member("c:3306", func(f *GaleraFacts) { f.LocalState, f.StateComment = 2, "Donor/Desynced" })
	nonPrimary := member("c:3306", func(f *GaleraFacts) { f.LocalState, f.ClusterStatus, f.Ready = 0, "non-Primary", false })
	otherCluster := member("c:3306", func(f *GaleraFacts) { f.StateUUID = "u2" })
	down := GaleraMember{Addr: "c:3306", Err: errors.New("connection refused")}

	tests := []struct {
		name   string
		others []GaleraMember
		min    int
		want   bool
		detail string
	}{
		{"two synced, min 1", []GaleraMember{synced, synced2}, 1, true, "2 other Synced member(s)"},
		{"two synced, min 2", []GaleraMember{synced, synced2}, 2, true, "(b:3306, c:3306)"},
		{"two synced, min 3", []GaleraMember{synced, synced2}, 3, false, "at least 3 needed"},
		{"one desynced, min 2", []GaleraMember{synced, desynced}, 2, false, "c:3306: desynced"},
		{"one desynced, min 1", []GaleraMember{synced, desynced}, 1, true, "not counted: c:3306: desynced"},
		{"a donor does not count", []GaleraMember{synced, donor}, 2, false, "c:3306: donor"},
		{"non-Primary", []GaleraMember{synced, nonPrimary}, 2, false, "non-Primary"},
		{"another cluster", []GaleraMember{synced, otherCluster}, 2, false, "another cluster"},
		{"unreachable", []GaleraMember{synced, down}, 2, false, "connection refused"},
		{"alone", nil, 1, false, "0 other Synced member(s)"},
		{"alone, min 0", nil, 0, true, "at least 0 needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, detail := GaleraDrainVerdict(local, tt.others, tt.min)
			if ok != tt.want || !strings.Contains(detail, tt.detail) {
				t.Errorf("GaleraDrainVerdict = %v, %q; want %v, containing %q", ok, detail, tt.want, tt.detail)
			}
		})
	}
}

func TestSplitIncoming(t *testing.T) {
	got := strings.Join(splitIncoming("192.0.2.22:3306, 192.0.2.21:3306,AUTO,"), " ")
	if got != "192.0.2.21:3306 192.0.2.22:3306" {
		t.Errorf("splitIncoming = %q", got)
	}
}
