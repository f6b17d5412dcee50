package main

import "fmt"

// Exit codes are an API: keepalived sees only the exit status of
// `hacheck check`, and scripts branch on the others. They are listed in
// the README; keep them in this one place.
const (
	// ExitOK: check/healthz healthy; drain done (or already drained, or a
	// dry run whose preconditions pass); undrain done; serve stopped cleanly.
	ExitOK = 0
	// ExitFail: not healthy; drain refused (nothing changed); any failure
	// to do the job.
	ExitFail = 1
	// ExitUsage: bad command line or configuration.
	ExitUsage = 2
	// ExitRoleChanged: `hacheck run` ran the command and this node no
	// longer had the role when it ended (or the role could not be read
	// again). Chosen apart from the small codes commands use and from the
	// shell's 126, 127 and 128+N, which `run` also returns.
	ExitRoleChanged = 120
	// ExitCannotExecute and ExitNotFound: `hacheck run` could not start
	// the command (as a shell says).
	ExitCannotExecute = 126
	ExitNotFound      = 127
)

// exitError carries an exit code up to run. msg is printed on stderr (and,
// for `check`, a summary line on stdout).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(format, a...)}
}

func failErr(format string, a ...any) error {
	return &exitError{code: ExitFail, msg: fmt.Sprintf(format, a...)}
}
