package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/statecheck"
)

func (a *app) checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "keepalived vrrp_script: exit 0 if this node may hold the VIP, 1 if not, 2 on a config error",
		Long: `Exit 0 when the state is "up" and every configured live check passes; exit 1
otherwise (also when the state file is missing or corrupt, a check times out, or
hacheck is interrupted); exit 2 for a usage or configuration error. One line on
stdout says why. The whole run is bounded by check_timeout, which must stay
below keepalived's script timeout. Safe to run several at once.

On a node whose check is its state file alone (no live checks, no
database), keepalived can run hacheck-check --config FILE instead: the
same line and exit codes from a binary that starts at a third of the
cost; for any other configuration it runs this command.`,
		Example: `  hacheck check --config /etc/hacheck/hacheck.yaml; echo $?`,
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return a.check(c.Context()) },
	}
}

// check is the whole of `hacheck check`, reached through cobra or, for
// the command lines keepalived uses (statecheck.ConfigArg), straight from
// run. Its one line and exit code are statecheck's, as cmd/hacheck-check
// prints them.
func (a *app) check(parent context.Context) error {
	cfg, n, err := a.node()
	if err != nil {
		fmt.Fprintln(a.stdout, "FAIL: configuration error (see stderr)")
		return err
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(parent, cfg.CheckTimeout)
	defer cancel()
	rep := n.Evaluate(ctx, false)
	if err := n.EndDeadAnswer(); err != nil {
		fmt.Fprintln(a.stderr, "hacheck check:", err)
	}
	if parent.Err() != nil {
		// Interrupted (keepalived's timeout sends SIGTERM): never
		// count that as success.
		return &exitError{Code: statecheck.Interrupted(a.stdout)}
	}
	if code := statecheck.Print(a.stdout, rep.Healthy, rep.Reason); code != ExitOK {
		return &exitError{Code: code}
	}
	return nil
}

// fastCheckArgs recognizes the command lines keepalived runs every second,
// "check" and "check --config FILE" (or --config=FILE), which need none of
// cobra's machinery: run goes straight to check with them, which saves
// building the command tree on every poll. Anything else (--help, another
// flag, an argument) goes through cobra, so usage errors read as before.
func fastCheckArgs(args []string) (config string, ok bool) {
	if len(args) == 0 || args[0] != "check" {
		return "", false
	}
	return statecheck.ConfigArg(args[1:])
}
