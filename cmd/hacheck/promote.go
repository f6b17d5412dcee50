package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) promoteCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "promote",
		Short: "Make this node's database the writable primary, as notify does on MASTER",
		Long: `The MASTER path of ` + "`hacheck notify`" + `, run by hand, under the same lock and
recorded the same way. It refuses on a node that does not hold the VIP (when
vip is configured). When the old primary cannot be reached and
promote.unplanned is refuse, it refuses unless --force is given: then it
promotes, and what the old primary had not replicated is lost.
Exit 0: promoted (or already the writable primary). Exit 1: refused or failed.
Exit 2: usage or configuration error.`,
		Example: `  hacheck promote
  hacheck promote --force   # only when the old primary is gone for good`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			nt, err := n.Notifier()
			if err != nil {
				return usageErr("%v", err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), n.NotifyBudget())
			defer cancel()
			rec, err := nt.PromoteNow(ctx, force, a.started)
			if rec.Action != "" {
				fmt.Fprintf(a.stdout, "promote: %s: %s\n", rec.Action, rec.Detail)
			}
			switch {
			case err == nil:
				return nil
			case rec.Action != "":
				// Said once on stdout (and in the log): no repeat on stderr.
				return &exitError{Code: ExitFail}
			}
			return failErr("promote: %v", err)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "promote even when the old primary cannot be reached (unplanned failover; unreplicated writes are lost)")
	return cmd
}
