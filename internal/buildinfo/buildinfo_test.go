package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestMerge(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "f00d"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}
	tests := []struct {
		name            string
		ver, rev, built string
		bi              *debug.BuildInfo
		want            Info
	}{
		{"nothing known", "", "", "", nil, Info{"dev", "unknown", "unknown", "unknown"}},
		{"link time wins", "1.2.3", "abc", "2026-12-01T00:00:00Z", vcs, Info{"1.2.3", "abc", "2026-12-01T00:00:00Z", "go1.26.8"}},
		{"vcs fills the gaps", "", "", "", vcs, Info{"dev", "f00d", "2026-11-30T10:00:00Z", "go1.26.8"}},
		{"go install records the module version", "", "", "", installed, Info{"v1.4.0", "unknown", "unknown", "go1.26.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Merge(tt.ver, tt.rev, tt.built, tt.bi); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got, want := (Info{"1.2.3", "abc", "2026-12-01", "go1.26.8"}).String(), "hacheck 1.2.3 (commit abc, built 2026-12-01, go1.26.8)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
