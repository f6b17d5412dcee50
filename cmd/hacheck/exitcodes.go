package main

import (
	"fmt"

	"github.com/hacheck/hacheck/internal/exitcode"
)

// The exit codes, under the names the commands use; their meaning is
// documented in internal/exitcode, their one place.
const (
	ExitOK            = exitcode.OK
	ExitFail          = exitcode.Fail
	ExitUsage         = exitcode.Usage
	ExitRoleChanged   = exitcode.RoleChanged
	ExitCannotExecute = exitcode.CannotExecute
	ExitNotFound      = exitcode.NotFound
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
