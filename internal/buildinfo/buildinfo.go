// Package buildinfo says which hacheck this is: version, commit, build date
// and Go version, for `hacheck version` and the hacheck_build_info metric.
package buildinfo

import (
	"fmt"
	"runtime/debug"
)

// Set at build time by scripts/package.sh with
//
//	-ldflags "-X github.com/hacheck/hacheck/internal/buildinfo.version=1.2.3 ..."
//
// (version, commit, date). Left empty, they come from the Go build
// information where it has them: a `go install ...@v1.2.3` records the
// module version, a build inside a git checkout the VCS revision and time.
var (
	version = ""
	commit  = ""
	date    = ""
)

// Info is one build's identity; no field is empty.
type Info struct {
	Version   string
	Commit    string
	BuildDate string
	GoVersion string
}

// Read merges the link-time values over the Go build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return Merge(version, commit, date, bi)
}

// Merge prefers the values set at link time; bi may be nil. A value known
// from neither is "unknown", a version "dev".
func Merge(ver, rev, built string, bi *debug.BuildInfo) Info {
	b := Info{Version: ver, Commit: rev, BuildDate: built}
	if bi != nil {
		b.GoVersion = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.BuildDate == "":
				b.BuildDate = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	for _, f := range []*string{&b.Commit, &b.BuildDate, &b.GoVersion} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return b
}

// String is the line `hacheck version` and `hacheck --version` print.
func (b Info) String() string {
	return fmt.Sprintf("hacheck %s (commit %s, built %s, %s)", b.Version, b.Commit, b.BuildDate, b.GoVersion)
}
