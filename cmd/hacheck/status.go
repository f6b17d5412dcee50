package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/health"
)

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the state, the live checks, the VIP and the database role (exit 0 healthy, 1 not)",
		Long: `Read everything now: the state file, every live check, the VIP, the last database
decision and the database role. A node that holds the VIP while its server does
not take writes says NOT ACCEPTING WRITES, why, and the one command that is safe.
Exit 0: healthy (and, on the VIP holder, accepting writes). Exit 1: not.
Exit 2: usage or configuration error.`,
		Example: `  hacheck status
  hacheck status --json | jq .role`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(c.Context(), cfg.CheckTimeout)
			defer cancel()
			rep := n.Status(ctx)
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(rep)
			} else {
				printStatus(a.stdout, rep)
			}
			if !rep.Healthy || notAcceptingWrites(rep) {
				return &exitError{Code: ExitFail}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the same JSON as GET /status")
	return cmd
}

func printStatus(w io.Writer, rep health.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	verdict := "HEALTHY"
	if !rep.Healthy {
		verdict = "NOT HEALTHY"
	}
	fmt.Fprintf(tw, "node\t%s\n", rep.Node)
	if notAcceptingWrites(rep) {
		// Eligible for the VIP, perhaps, but the one thing that matters
		// on the VIP holder is that writes fail: never say HEALTHY then.
		fmt.Fprintf(tw, "verdict\tNOT ACCEPTING WRITES: %s\n", rep.Role.Writes)
		fmt.Fprintf(tw, "eligibility\t%s: %s\n", strings.ToLower(verdict), rep.Reason)
	} else {
		fmt.Fprintf(tw, "verdict\t%s: %s\n", verdict, rep.Reason)
	}
	if rep.State != nil {
		s := rep.State
		fmt.Fprintf(tw, "state\t%s (generation %d)\n", s.State, s.Generation)
		fmt.Fprintf(tw, "changed\t%s by %s via %s\n", s.ChangedAt.Local().Format(time.RFC3339), s.ChangedBy, orDash(s.Via))
		fmt.Fprintf(tw, "reason\t%s\n", orDash(s.Reason))
		if s.Hold.ActiveAt(time.Now()) {
			fmt.Fprintf(tw, "hold\tHELD for move to %s by %s until %s (not eligible for the VIP; ends by itself then)\n", s.Hold.For, s.Hold.By, s.Hold.Until.Local().Format(time.RFC3339))
		}
		if s.Stale != nil {
			fmt.Fprintf(tw, "stale\tSTALE EX-PRIMARY since %s: %s; run `hacheck follow`\n", s.Stale.Since.Local().Format(time.RFC3339), s.Stale.Why)
		}
		if s.Forced {
			fmt.Fprintf(tw, "forced\tyes: the last drain skipped its preconditions\n")
		}
	} else {
		fmt.Fprintf(tw, "state\tUNUSABLE: %s\n", rep.StateError)
	}
	if rep.VIP != nil {
		held := "not held here"
		if rep.VIP.Held {
			held = "HELD here"
		}
		if rep.VIP.Error != "" {
			held = "unknown: " + rep.VIP.Error
		}
		fmt.Fprintf(tw, "vip\t%s on %s: %s\n", rep.VIP.Address, rep.VIP.Interface, held)
	}
	if k := rep.Keepalived; k != nil {
		if k.Error != "" {
			fmt.Fprintf(tw, "keepalived\t%s: %s\n", k.Config, k.Error)
		} else {
			np := "no nopreempt"
			if k.Nopreempt {
				np = "nopreempt"
			}
			fmt.Fprintf(tw, "keepalived\t%s priority %d, %s (%s)\n", k.Instance, k.Priority, np, k.Config)
		}
	}
	if r := rep.Role; r != nil {
		ro := "unknown"
		if r.ReadOnly != nil {
			ro = map[bool]string{true: "read-only", false: "writable"}[*r.ReadOnly]
		}
		fmt.Fprintf(tw, "database\t%s now; %s\n", ro, r.Writes)
	}
	if m := rep.MySQL; m != nil {
		fmt.Fprintf(tw, "mysql\t%s after %s (seq %d, %s): %s\n", m.Action, m.Event, m.Seq, m.At.Local().Format(time.RFC3339), m.Detail)
	}
	printDrainStatus(tw, rep.Drain)
	tw.Flush()
	if len(rep.Checks) == 0 {
		fmt.Fprintln(w, "checks: none configured")
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTOOK\tDETAIL")
	for _, c := range rep.Checks {
		res := "ok"
		if !c.OK {
			res = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, res, c.Took.Round(time.Millisecond), c.Detail)
	}
	tw.Flush()
}

// notAcceptingWrites: this node holds the VIP and its server does not take
// writes.
func notAcceptingWrites(rep health.Report) bool {
	return rep.Role != nil && rep.Role.HoldsVIP && !rep.Role.AcceptingWrites
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printDrainStatus shows a drain journal (running or interrupted) and the
// last drain, with what recovery did when it was interrupted.
func printDrainStatus(w io.Writer, d *health.DrainStatus) {
	if d == nil {
		return
	}
	for _, op := range d.Interrupted {
		fmt.Fprintf(w, "interrupted\t%s\n", op)
	}
	if j := d.Journal; j != nil {
		fmt.Fprintf(w, "drain journal\t%s\n", j.Detail)
	}
	if l := d.Last; l != nil {
		line := fmt.Sprintf("%s at %s", l.Outcome, l.At.Local().Format(time.RFC3339))
		if l.Error != "" {
			line += ": " + l.Error
		}
		fmt.Fprintf(w, "last drain\t%s\n", line)
		if l.Recovery != "" {
			fmt.Fprintf(w, "recovery\t%s (%s)\n", l.Recovery, l.Recovered.Local().Format(time.RFC3339))
		}
	}
}
