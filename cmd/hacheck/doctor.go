package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/doctor"
)

func (a *app) doctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Look at this installation and say what to fix, one line each",
		Long: `Check what keepalived and hacheck must agree on, without changing anything: the
binary keepalived runs and every directory above it pass enable_script_security
(root-owned, not writable by group or other); the configuration file is not
readable by others when it holds a password; keepalived.config watches
state_dir/keepalived.track, runs 'hacheck check' with this configuration and a
timeout above check_timeout, runs 'hacheck notify' (with mysql.dsn), keeps
nopreempt, and has priorities that take over fast; the MySQL account has the
grants its features need; the peer's hacheck answers. Secrets are never printed.
Exit 0: nothing to fix. Exit 1: problems found (each with what to do).
Exit 2: usage or configuration error.`,
		Example: `  hacheck doctor --config /etc/hacheck/hacheck.yaml`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(c.Context(), cfg.CheckTimeout+cfg.Peer.Timeout)
			defer cancel()
			findings := n.Doctor(ctx)
			for _, f := range findings {
				if f.OK {
					fmt.Fprintf(a.stdout, "ok    %s\n", f.What)
				} else {
					fmt.Fprintf(a.stdout, "FIX   %s\n", f.What)
					if f.Fix != "" {
						fmt.Fprintf(a.stdout, "      -> %s\n", f.Fix)
					}
				}
			}
			if p := doctor.Problems(findings); p > 0 {
				fmt.Fprintf(a.stdout, "%d problem(s) found\n", p)
				return &exitError{Code: ExitFail}
			}
			fmt.Fprintln(a.stdout, "nothing to fix")
			return nil
		},
	}
}
