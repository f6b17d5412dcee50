package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/node"
)

func (a *app) runCmd() *cobra.Command {
	var roleFlag string
	var skipExit int
	cmd := &cobra.Command{
		Use:   "run [flags] -- COMMAND [ARGS...]",
		Short: "Run a command only while this node has a role (for cron jobs and timers)",
		Long: `Read this node's role now and run COMMAND only when it is the one asked for;
otherwise log one line saying why and exit 0 (or --skip-exit). Fails closed:
a state file that is missing or corrupt, a VIP or a server that cannot be read,
or a check that runs out of check_timeout means skipped, never run.

  primary  state up, not a stale ex-primary, holds the VIP and its server is
           writable (without mysql.dsn: up and holds the VIP; without vip:
           never)
  replica  does not hold the VIP, its server is read-only and replicates
           (the state may be up or drained, but must be readable)
  up       state up and eligible for the VIP (not a stale ex-primary)

COMMAND gets this process's stdin, stdout and stderr; SIGINT and SIGTERM are
forwarded to it. When it ends the role is read again: if this node no longer
has it, a warning says so and the exit is 120. With --role primary or up, a
drain of this node waits for the command to end before its first step (and
is refused if it outlasts half the drain's timeout), and no such command
starts once a drain has begun.
Exit 0: skipped (or --skip-exit N), or the command exited 0. Exit N: the
command's own exit status (128+signal when a signal killed it). Exit 120: the
command ran, and the role changed while it ran. Exit 126/127: the command could
not be started / was not found. Exit 2: usage or configuration error.`,
		Example: `  hacheck run --role primary -- /usr/local/bin/backup-to-standby
  hacheck run --role replica --skip-exit 3 -- mariadb-dump --all-databases`,
		RunE: func(c *cobra.Command, args []string) error {
			role, err := health.ParseRunRole(roleFlag)
			if err != nil {
				return usageErr("--role: %v (see `hacheck run --help`)", err)
			}
			if len(args) == 0 {
				return usageErr("run needs a command: hacheck run --role %s -- COMMAND [ARGS...]", role)
			}
			if skipExit < 0 || skipExit > 255 {
				return usageErr("--skip-exit %d: write 0 to 255", skipExit)
			}
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			return a.runAs(c.Context(), cfg, n, role, skipExit, args)
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVar(&roleFlag, "role", string(health.RunPrimary), "the role this node must have now: primary, replica or up")
	cmd.Flags().IntVar(&skipExit, "skip-exit", ExitOK, "exit status when the command is skipped")
	return cmd
}

// runAs decides, runs the command when this node has the role, and reads
// the role again when it ended.
func (a *app) runAs(ctx context.Context, cfg *config.Config, n *node.Node, role health.RunRole, skipExit int, args []string) error {
	log := a.logger(cfg).With("role", string(role), "command", args[0])
	if role.HoldsOffDrains() {
		// Held before the role is read: a drain that has begun skips the
		// job, and a drain that begins later waits for it to end.
		release, err := n.HoldJob()
		if err != nil {
			log.Info(fmt.Sprintf("skipped: not %s: %v", role, err))
			return &exitError{Code: skipExit}
		}
		defer release()
	}
	v := decideRun(ctx, cfg, n, role)
	if !v.Run {
		log.Info("skipped: " + v.Why)
		return &exitError{Code: skipExit}
	}
	log.Debug("running: " + v.Why)
	code, err := a.execForwarding(args)
	if err != nil {
		log.Error("run: " + err.Error())
		return &exitError{Code: code}
	}
	// The role is read again even when hacheck itself was told to stop:
	// the command has ended either way.
	after := decideRun(context.WithoutCancel(ctx), cfg, n, role)
	if !after.Run {
		log.Warn("role changed while the command ran: "+after.Why, "exit", code)
		return &exitError{Code: ExitRoleChanged}
	}
	log.Debug("done, still "+string(role), "exit", code)
	return &exitError{Code: code}
}

// decideRun reads the facts within check_timeout and decides.
func decideRun(ctx context.Context, cfg *config.Config, n *node.Node, role health.RunRole) health.RunVerdict {
	ctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	defer cancel()
	return health.DecideRun(role, n.RunFacts(ctx, role))
}

// execForwarding runs args with this process's stdin and the command's
// stdout and stderr, forwarding SIGINT and SIGTERM to it, and returns its
// exit status as a shell would: 128+N when signal N killed it, 126/127 (and
// an error) when it could not be started.
func (a *app) execForwarding(args []string) (int, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, a.stdout, a.stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return ExitNotFound, fmt.Errorf("start %s: %w", args[0], err)
		}
		return ExitCannotExecute, fmt.Errorf("start %s: %w", args[0], err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err == nil {
		return ExitOK, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return ExitCannotExecute, fmt.Errorf("wait for %s: %w", args[0], err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}
