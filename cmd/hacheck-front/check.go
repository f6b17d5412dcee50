package main

import (
	"io"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// stateCheck answers `hacheck check ARGS` when the node's one input is
// its state file (statecheck.Read takes the configuration), bounded by
// check_timeout: a state not read in time is a failure. ok is false for
// any other case, which the full check answers.
//
// It installs no signal handler (each costs a thread at start):
// keepalived's SIGTERM at its script timeout ends it by the signal's
// default action, which keepalived counts as a failure, as it does the
// "interrupted" exit 1 of the full check.
func stateCheck(args, environ []string, stdout, stderr io.Writer, exit func(int)) (code int, ok bool) {
	file, ok := statecheck.ConfigArg(args)
	if !ok {
		return 0, false
	}
	s, ok := statecheck.Read(file, environ)
	if !ok {
		return 0, false
	}
	// One line on stdout: the verdict's, or the deadline's.
	var once sync.Once
	deadline := time.AfterFunc(s.CheckTimeout, func() {
		once.Do(func() { exit(statecheck.Print(stdout, false, statecheck.Late(s))) })
	})
	healthy, reason := statecheck.Verdict(s, statecheck.Logger(stderr, s.LogLevel, s.LogFormat))
	code = exitcode.Fail
	once.Do(func() {
		deadline.Stop()
		code = statecheck.Print(stdout, healthy, reason)
	})
	return code, true
}
