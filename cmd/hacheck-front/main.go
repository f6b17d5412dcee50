// Command hacheck-front is the hacheck that operators and keepalived run,
// installed as /usr/sbin/hacheck: a small program that answers the two
// commands whose start-up cost is on the path of a move, and becomes the
// full program for everything else.
//
//   - `hacheck check` on a node whose one input is its state file: the
//     state-only check (internal/statecheck), as cmd/hacheck-check does.
//     keepalived runs it every second on every node.
//   - `hacheck drain` on a node whose serve listens on admin.socket: serve
//     runs the drain from its open connections (internal/clidrain) and its
//     output comes back as it is written. The full program's cold start
//     (about 25 ms here: its package initialisers and page faults) and its
//     first connections were the first third of a move.
//
// Anything else, and either command when its fast way does not apply (live
// checks, a HACHECK_* override, a flag it does not know, serve not
// running), is the full program: this process becomes it (exec: the same
// PID, so keepalived's timeout, signals and the exit status are as
// before). The full program is <this directory>/../lib/hacheck/hacheck, as
// the package installs it (/usr/sbin/hacheck, /usr/lib/hacheck/hacheck).
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
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr, execFull, os.Exit))
}

// run is the whole program. full replaces the process with the full
// program and returns only when it could not; exit ends the process when
// the state-only check's deadline passes first.
func run(args, environ []string, stdout, stderr io.Writer, full func(args []string) error, exit func(int)) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			if code, ok := statecheck.Answer(args[1:], environ, stdout, stderr, exit); ok {
				return code
			}
		case "drain":
			if code, ok := drainInServe(args[1:], environ, stdout, stderr); ok {
				return code
			}
		}
	}
	err := full(args)
	if len(args) > 0 && args[0] == "check" {
		// keepalived logs stdout: one line, as the check prints it.
		fmt.Fprintln(stdout, "FAIL: configuration error (see stderr)")
	}
	fmt.Fprintln(stderr, "hacheck: "+err.Error())
	return exitcode.Usage
}

// fullPath is where the full program is, relative to this executable.
func fullPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the full hacheck: %w", err)
	}
	return filepath.Join(filepath.Dir(self), "..", "lib", "hacheck", "hacheck"), nil
}

// execFull replaces this process with the full program, given args.
func execFull(args []string) error {
	full, err := fullPath()
	if err != nil {
		return err
	}
	err = syscall.Exec(full, append([]string{full}, args...), os.Environ())
	return fmt.Errorf("run the full hacheck %s: %w (this hacheck is the lean front: it needs the full program there, as the package installs it)", filepath.Clean(full), err)
}
