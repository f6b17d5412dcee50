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

// exitError carries an exit code up to run. Msg is printed on stderr (and,
// for `check`, a summary line on stdout). It is internal/exitcode's, which
// node.RunDrain returns too.
type exitError = exitcode.Error

func usageErr(format string, a ...any) error {
	return &exitError{Code: ExitUsage, Msg: fmt.Sprintf(format, a...)}
}

func failErr(format string, a ...any) error {
	return &exitError{Code: ExitFail, Msg: fmt.Sprintf(format, a...)}
}
