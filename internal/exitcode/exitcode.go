// Package exitcode holds hacheck's exit codes, an API: keepalived sees
// only the exit status of `hacheck check` (and of `hacheck-check`), and
// scripts branch on the others. They are listed in the README; this is
// their one place, shared by both binaries.
package exitcode

const (
	// OK: check/healthz healthy; drain done (or already drained, or a
	// dry run whose preconditions pass); undrain done; serve stopped cleanly.
	OK = 0
	// Fail: not healthy; drain refused (nothing changed); any failure
	// to do the job.
	Fail = 1
	// Usage: bad command line or configuration.
	Usage = 2
	// RoleChanged: `hacheck run` ran the command and this node no
	// longer had the role when it ended (or the role could not be read
	// again). Chosen apart from the small codes commands use and from the
	// shell's 126, 127 and 128+N, which `run` also returns.
	RoleChanged = 120
	// CannotExecute and NotFound: `hacheck run` could not start
	// the command (as a shell says).
	CannotExecute = 126
	NotFound      = 127
)

// Error is how a command failed: its exit code and the message for
// stderr.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
