package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/keepalived"
)

func (a *app) drainCmd() *cobra.Command {
	var opt drain.Options
	var timeout time.Duration
	var keepFenced, follow bool
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Mark this node drained after its preconditions pass (keepalived moves the VIP away)",
		Long: `First wait for the jobs that 'hacheck run --role primary|up' runs on this node
(at most half the timeout; refused if one outlasts it; not with --force or
--dry-run). Then run the preconditions (each executable in preconditions_dir, in lexical order,
each with precondition_timeout); only when all pass does the state become
"drained", which makes keepalived give the VIP away at once.
With mysql.dsn set, the drain is a database cutover, in this order:
 1. peer-ready: the peer's hacheck (peer.url/status) is up and healthy, and the
    peer's server (peer.mysql_dsn) replicates from this one, both threads
    running, no error;
 2. fence: this server becomes read-only (within mysql.fence_timeout) and its
    frozen GTID position is read;
 3. catch-up: the peer applies that position (within drain.catchup_timeout),
    verified afterwards;
 4. answer (with vip.* set and drain.answer_for, default 3s): for that long
    after the VIP leaves, this node's own stack still answers TCP to it, so
    a client whose ARP entry still names this node is refused at once
    instead of waiting for its SYN retransmit (needs CAP_NET_ADMIN; without
    it the drain says so and goes on);
 5. the state becomes drained.
If 1-4 fail, the fence is undone (unless --keep-fenced) and the state is
unchanged.
With several peers (peers: in the configuration) the drain moves the primary to
one successor: --to NODE, or else the most up-to-date eligible replica (GTID
position, then keepalived priority, then name), printed as "successor: NODE
(why)". Every other node is held out of keepalived's election (POST /v1/hold on
its admin API, confirmed) before the fence, so only the successor can take the
VIP; after the flip the drain waits for the successor's server to be writable,
releases the holds and repoints every other replica to the successor by GTID
("repointed: ..." lines). Refused with nothing changed when the successor is
unknown, not a running replica of this server, not up, held, unreachable, or
would be preempted by a released node without nopreempt. --dry-run runs 1 and says what 2-5 would do. --follow, after the
flip, waits for the peer to be promoted and makes this server replicate from it.
Exit 0: drained, already drained, or (--dry-run) the preconditions pass.
Exit 1: refused; every failed precondition or step is listed and nothing
changed (with --follow: also when following failed; the drain itself is then
done, as the message says).
Exit 2: usage or configuration error.`,
		Example: `  hacheck drain --dry-run
  hacheck drain --reason "kernel upgrade" --follow
  hacheck drain --to node-c --reason "rack move"`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("timeout") && timeout <= 0 {
				return usageErr("--timeout %s: must be a positive duration such as 30s", timeout)
			}
			_, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			opt.Via = "cli"
			return n.RunDrain(c.Context(), drain.Request{Options: opt, KeepFenced: keepFenced, Follow: follow, Timeout: timeout}, a.stdout)
		},
	}
	cmd.Flags().StringVar(&opt.To, "to", "", "with several peers: the node to move the primary to (default: the most up-to-date eligible replica, printed on the successor: line)")
	cmd.Flags().BoolVar(&keepFenced, "keep-fenced", false, "when a step fails, leave this server read-only instead of undoing the fence")
	cmd.Flags().BoolVar(&follow, "follow", false, "after the flip, wait for the peer's promotion and replicate from it (see 'hacheck follow')")
	cmd.Flags().StringVar(&opt.Reason, "reason", "", "why (recorded in the state and shown by status)")
	cmd.Flags().BoolVar(&opt.DryRun, "dry-run", false, "run the preconditions, change nothing")
	cmd.Flags().BoolVar(&opt.Force, "force", false, "skip the preconditions (recorded in the state)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "bound for the whole drain (default: drain.timeout)")
	return cmd
}

func (a *app) undrainCmd() *cobra.Command {
	var opt drain.Options
	var keepalivedConf string
	cmd := &cobra.Command{
		Use:   "undrain",
		Short: "Mark this node up: eligible to hold the VIP and to receive traffic",
		Long: `Mark this node up, under the operation lock. With mysql.dsn set, first make this
server an eligible standby: a writable server whose peer holds the VIP, or whose
peer's server has transactions it lacks, is made read-only (and marked a stale
ex-primary); at bootstrap the writable primary stays writable. On a Galera node it
is refused until the node is Synced (--force skips that, recorded). A stale
ex-primary stays ineligible after undrain until it follows the new primary
('hacheck follow'), or --clear-stale with --reason vouches for it.
Exit 0: up (or already up). Exit 1: refused or failed; the state is unchanged.
Exit 2: usage or configuration error.`,
		Example: `  hacheck undrain --reason "maintenance done"
  hacheck undrain --clear-stale --reason "restored from the new primary's backup"`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(c.Context(), cfg.Drain.Timeout)
			defer cancel()
			if opt.ClearStale && strings.TrimSpace(opt.Reason) == "" {
				return usageErr("--clear-stale needs --reason (it is recorded: say how you know this server lacks none of the primary's writes)")
			}
			warnPreempt(n.Log(), keepalivedConf)
			opt.Via = "cli"
			s, changed, err := n.Undrain(ctx, opt, a.stdout)
			if err != nil {
				return failErr("undrain: %v", err)
			}
			switch {
			case s.Hold.ActiveAt(time.Now()):
				fmt.Fprintf(a.stdout, "up (generation %d), but NOT eligible until %s: %s\n", s.Generation, s.Hold.Until.Format(time.RFC3339), s.Hold)
			case s.Stale != nil:
				fmt.Fprintf(a.stdout, "up (generation %d), but NOT eligible: a stale ex-primary since %s (%s); run `hacheck follow` (or, if you know this server lacks nothing, `hacheck undrain --clear-stale --reason ...`)\n",
					s.Generation, s.Stale.Since.Format(time.RFC3339), s.Stale.Why)
			case !changed:
				fmt.Fprintf(a.stdout, "already up (generation %d); nothing to do\n", s.Generation)
			default:
				fmt.Fprintf(a.stdout, "up (generation %d)\n", s.Generation)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opt.Reason, "reason", "", "why (recorded in the state)")
	cmd.Flags().BoolVar(&opt.ClearStale, "clear-stale", false, "also clear a stale ex-primary mark (recorded; only when this server is known to lack none of the primary's writes: 'hacheck follow' is the safe way)")
	cmd.Flags().BoolVar(&opt.Force, "force", false, "on a Galera node: undrain even when it is not Synced (recorded in the state)")
	cmd.Flags().StringVar(&keepalivedConf, "keepalived-config", defaultKeepalivedConf, "keepalived configuration to look at for nopreempt (warning only)")
	return cmd
}

const defaultKeepalivedConf = "/etc/keepalived/keepalived.conf"

// warnPreempt warns when the keepalived configuration can be read and has
// no nopreempt: undrain would then let this node take the VIP back from a
// healthy holder with a lower priority.
func warnPreempt(log *slog.Logger, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if !keepalived.HasNopreempt(string(b)) {
		log.Warn(path + " has no nopreempt: once up, this node may take the VIP back from a healthy peer with a lower priority (add nopreempt to both vrrp_instance blocks)")
	}
}
