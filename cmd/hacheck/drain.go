package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/state"
)

func (a *app) drainCmd() *cobra.Command {
	var opt drain.Options
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Mark this node drained after its preconditions pass (keepalived moves the VIP away)",
		Long: `Run the preconditions (each executable in preconditions_dir, in lexical order,
each with precondition_timeout); only when all pass does the state become
"drained", which makes keepalived give the VIP away at once.

Exit 0: drained, already drained, or (--dry-run) the preconditions pass.
Exit 1: refused; every failed precondition is listed and nothing changed.
Exit 2: usage or configuration error.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			if c.Flags().Changed("timeout") && timeout <= 0 {
				return usageErr("--timeout %s: must be a positive duration such as 30s", timeout)
			}
			if timeout <= 0 {
				timeout = cfg.Drain.Timeout
			}
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			plan, err := drain.PlanFor(cfg, opt)
			if err != nil {
				return failErr("%v", err)
			}
			opt.Via = "cli"
			res, err := drain.Run(ctx, state.Store{Dir: cfg.StateDir}, plan, opt, a.stdout)
			return a.reportDrain(res, err)
		},
	}
	cmd.Flags().StringVar(&opt.Reason, "reason", "", "why (recorded in the state and shown by status)")
	cmd.Flags().BoolVar(&opt.DryRun, "dry-run", false, "run the preconditions, change nothing")
	cmd.Flags().BoolVar(&opt.Force, "force", false, "skip the preconditions (recorded in the state)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound for the whole drain (default: drain.timeout)")
	return cmd
}

func (a *app) reportDrain(res drain.Result, err error) error {
	switch {
	case errors.Is(err, state.ErrBusy):
		return failErr("%v; try again when it has finished", err)
	case err != nil && res.Outcome == drain.Refused && len(res.Failures) > 0:
		var b strings.Builder
		fmt.Fprintf(&b, "drain refused; the state is unchanged. Failed:")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "\n  - %s: %s", f.Name, f.Detail)
		}
		b.WriteString("\nFix these, or run `hacheck drain --force` to drain anyway.")
		return failErr("%s", b.String())
	case err != nil:
		return failErr("drain failed: %v", err)
	}
	switch res.Outcome {
	case drain.Drained:
		fmt.Fprintf(a.stdout, "drained (generation %d)\n", res.State.Generation)
	case drain.DryRunPassed:
		fmt.Fprintln(a.stdout, "dry run: every precondition passed; nothing was changed")
	}
	return nil
}

func (a *app) undrainCmd() *cobra.Command {
	var opt drain.Options
	cmd := &cobra.Command{
		Use:   "undrain",
		Short: "Mark this node up: eligible to hold the VIP and to receive traffic",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), cfg.Drain.Timeout)
			defer cancel()
			opt.Via = "cli"
			s, changed, err := drain.Undrain(ctx, state.Store{Dir: cfg.StateDir}, opt)
			if err != nil {
				return failErr("undrain: %v", err)
			}
			if !changed {
				fmt.Fprintf(a.stdout, "already up (generation %d); nothing to do\n", s.Generation)
				return nil
			}
			fmt.Fprintf(a.stdout, "up (generation %d)\n", s.Generation)
			return nil
		},
	}
	cmd.Flags().StringVar(&opt.Reason, "reason", "", "why (recorded in the state)")
	return cmd
}
