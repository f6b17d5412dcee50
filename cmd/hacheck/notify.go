package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/state"
)

func (a *app) notifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "notify INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY",
		Short: "keepalived notify script: promote this node's database on MASTER, fence it otherwise",
		Long: `Called by keepalived (notify "hacheck notify --config FILE") with four arguments.
MASTER on a node that holds the VIP: make this server the writable primary —
directly when it has no replication source; when it replicates, only after the
old primary (peer.mysql_dsn) is read-only (fenced here if needed) and its frozen
GTID position is applied here; if the old primary cannot be reached, follow
promote.unplanned (refuse: stay read-only; promote). BACKUP, FAULT, STOP: make
this server read-only. Invocations are serialized by a lock in state_dir and
ordered by when they started (boot id and CLOCK_BOOTTIME, not the wall clock).
A node that does not hold the VIP (or cannot tell) is always made read-only,
however late its event. An event that started before the last applied one is
ignored only when ignoring it cannot leave a writable server without the VIP:
a stale MASTER, or a BACKUP/FAULT/STOP on a node that holds the VIP after a
newer promotion. The decision is recorded in state_dir/notify.json and shown
by status.
Exit 0: applied (or ignored as stale). Exit 1: refused or failed. Exit 2: usage.`,
		Example: `  notify "/usr/sbin/hacheck notify --config /etc/hacheck/hacheck.yaml"   # in keepalived.conf
  hacheck notify INSTANCE VI_HACHECK MASTER 254`,
		Args: func(c *cobra.Command, args []string) error {
			if _, err := cutover.ParseEvent(args, a.started); err != nil {
				return usageErr("%v (see `%s --help`)", err, c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ev, _ := cutover.ParseEvent(args, a.started)
			ev.Stamp = a.stamp
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			log := a.logger(cfg)
			if a.stampErr != nil {
				log.Warn("notify: no ordering stamp; this event is never judged stale", "err", a.stampErr)
			}
			if !n.HasDatabase() {
				st := state.Store{Dir: cfg.StateDir}
				if err := st.SaveTransition(state.Transition{Kind: ev.Kind, Instance: ev.Name, State: ev.State, Priority: ev.Priority, At: time.Now().UTC()}); err != nil {
					return failErr("record transition: %v", err)
				}
				fmt.Fprintf(a.stdout, "notify %s: recorded (no mysql.dsn: no database to promote or fence)\n", ev.State)
				return nil
			}
			nt, err := n.Notifier()
			if err != nil {
				return usageErr("%v", err)
			}
			ctx, cancel := context.WithTimeout(c.Context(), n.NotifyBudget())
			defer cancel()
			rec, err := nt.Handle(ctx, ev)
			if rec.Action != "" {
				fmt.Fprintf(a.stdout, "notify %s: %s: %s\n", ev.State, rec.Action, rec.Detail)
			}
			switch {
			case err == nil:
				return nil
			case rec.Action != "":
				// Said once on stdout (and in the log): no repeat on stderr.
				return &exitError{Code: ExitFail}
			}
			return failErr("notify %s: %v", ev.State, err)
		},
	}
}
