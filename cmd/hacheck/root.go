package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/buildinfo"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/node"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// app is what every subcommand shares.
type app struct {
	configPath string
	logFormat  string // --log-format; "" = log_format
	stdout     io.Writer
	stderr     io.Writer
	// started orders keepalived notify invocations: keepalived starts them
	// asynchronously, and the one that started later must win.
	started time.Time
	// stamp orders notify invocations too, from the boot id and
	// CLOCK_BOOTTIME, which never step backwards as the wall clock can.
	// Read first thing in run, and only for notify: every other command
	// (check runs every second) does not pay for reading /proc.
	stamp    cutover.Stamp
	stampErr error
}

// load reads the configuration; a problem is a usage error (exit 2).
func (a *app) load() (*config.Config, error) {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return nil, &exitError{Code: ExitUsage, Msg: err.Error()}
	}
	switch a.logFormat {
	case "":
	case "text", "json":
		cfg.LogFormat = a.logFormat
	default:
		return nil, usageErr("--log-format %q: write text or json", a.logFormat)
	}
	log := a.logger(cfg)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	return cfg, nil
}

// node reads the configuration and builds the node from it (see
// internal/node); a problem with either is a usage error (exit 2). The
// caller closes the node.
func (a *app) node() (*config.Config, *node.Node, error) {
	cfg, err := a.load()
	if err != nil {
		return nil, nil, err
	}
	n, err := node.New(cfg, a.logger(cfg))
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	return cfg, n, nil
}

// logger is the one logger of a command: log_format (or --log-format)
// text or json, at log_level, on stderr.
func (a *app) logger(cfg *config.Config) *slog.Logger {
	return statecheck.Logger(a.stderr, cfg.LogLevel, cfg.LogFormat)
}

// run is the whole program: tests call it exactly as main does.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, started: time.Now()}
	if slices.Contains(args, "notify") {
		a.stamp, a.stampErr = cutover.NowStamp()
	}
	if config, ok := fastCheckArgs(args); ok {
		a.configPath = config
		return a.exitCode(a.check(ctx))
	}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	return a.exitCode(root.Execute())
}

// exitCode prints what err says on stderr and returns the exit code.
func (a *app) exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	stderr := a.stderr
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.Msg != "" {
			fmt.Fprintln(stderr, "hacheck: "+ee.Msg)
		}
		return ee.Code
	}
	// Anything else comes from cobra itself: an unknown command or a
	// missing argument.
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown command") {
		msg += " (see `hacheck --help`)"
	}
	fmt.Fprintln(stderr, "hacheck: "+msg)
	return ExitUsage
}

// noArgs rejects positional arguments with a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments, got %q (see `%s --help`)", c.CommandPath(), strings.Join(args, " "), c.CommandPath())
	}
	return nil
}

// rootCmd is the command tree.
func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hacheck",
		Short:         "Safe keepalived failovers: one state for keepalived, its track script and load balancers",
		Version:       buildinfo.Read().String(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "configuration file (default "+config.DefaultFile+" if it exists)")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "", "log lines as text or json (default: log_format, text)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see `%s --help`)", err, c.CommandPath())
	})
	root.AddCommand(a.checkCmd(), a.serveCmd(), a.drainCmd(), a.undrainCmd(), a.statusCmd(), a.notifyCmd(), a.promoteCmd(), a.followCmd(), a.doctorCmd(), a.runCmd(), a.versionCmd(), a.genManCmd())
	return root
}
