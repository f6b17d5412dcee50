// Command hacheck-check is keepalived's vrrp_script at the cost of a
// minimal program: `hacheck-check --config FILE` answers as `hacheck
// check --config FILE` does, and for a node whose one input is its state
// file it links and starts nothing else (internal/statecheck).
//
// Any other case is the full check's: a configuration statecheck.Read
// does not take (live checks, a database, any other key, a HACHECK_*
// override, a file it cannot read) or another command line (--help, a
// typo). Then hacheck-check becomes `hacheck check ARGS` (exec: the same
// process, so keepalived's timeout and the exit status are as before),
// the hacheck in its own directory.
//
// The state-only check is bounded by check_timeout: a state that is not
// read in time is a failure. It installs no signal handler (each costs a
// thread at start): keepalived's SIGTERM at its script timeout ends it by
// the signal's default action, which keepalived counts as a failure, as
// it does the "interrupted" exit 1 of `hacheck check`.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/statecheck"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr, execCheck, os.Exit))
}

// run is the whole program. full replaces the process with the full
// check and returns only when it could not; exit ends the process when
// check_timeout passes first.
func run(args, environ []string, stdout, stderr io.Writer, full func(args []string) error, exit func(int)) int {
	if code, ok := statecheck.Answer(args, environ, stdout, stderr, exit); ok {
		return code
	}
	err := full(args)
	fmt.Fprintln(stdout, "FAIL: configuration error (see stderr)")
	fmt.Fprintln(stderr, "hacheck-check: "+err.Error())
	return exitcode.Usage
}

// execCheck replaces this process with `hacheck check args`, the hacheck
// next to this executable.
func execCheck(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the hacheck next to hacheck-check: %w", err)
	}
	full := filepath.Join(filepath.Dir(self), "hacheck")
	err = syscall.Exec(full, append([]string{full, "check"}, args...), os.Environ())
	return fmt.Errorf("run %s check: %w (for this configuration hacheck-check runs the hacheck in its own directory: install both there, as the package does)", full, err)
}
