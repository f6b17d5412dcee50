package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// commonFlags are the flags every lab-building command takes.
type commonFlags struct {
	hacheck string
	front   string
	base    string
	verbose bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	def, front := "", ""
	if exe, err := os.Executable(); err == nil {
		def = filepath.Join(filepath.Dir(exe), "hacheck")
		if _, err := os.Stat(filepath.Join(filepath.Dir(exe), "hacheck-front")); err == nil {
			front = filepath.Join(filepath.Dir(exe), "hacheck-front")
		}
	}
	fs.StringVar(&c.hacheck, "hacheck", def, "hacheck binary to install on the nodes")
	fs.StringVar(&c.front, "front", front, "the lean front (cmd/hacheck-front) to install as each node's hacheck, the --hacheck binary behind it as the package does (default: hacheck-front next to hacheck-lab, if there; empty: --hacheck alone)")
	fs.StringVar(&c.base, "base", lab.DefaultBase, "parent directory of lab directories (root-owned, not world-writable)")
	fs.BoolVar(&c.verbose, "v", false, "log the lab's own progress")
}

func (c *commonFlags) logger(w io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func (c *commonFlags) check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, keepalived)")
	}
	if _, err := os.Stat(c.hacheck); err != nil {
		return &usageError{fmt.Sprintf("hacheck binary: %v (build it and pass --hacheck PATH)", err)}
	}
	if c.front != "" {
		if _, err := os.Stat(c.front); err != nil {
			return &usageError{fmt.Sprintf("--front: %v (build cmd/hacheck-front, or pass --front '' to install --hacheck alone)", err)}
		}
	}
	return nil
}

// parse parses args into fs and turns a flag error into a usage error.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected arguments %q", strings.Join(fs.Args(), " "))}
	}
	return nil
}

// hacheckOn runs the node's hacheck with args and its --config in its
// namespace, bounded by 30 s.
func hacheckOn(ctx context.Context, l *lab.Lab, n *lab.Node, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := l.Exec(ctx, n, n.Hacheck, append(args, "--config", n.HacheckConfig)...)
	return strings.TrimSpace(string(out)), err
}

// other returns the keepalived node that is not n.
func other(l *lab.Lab, n *lab.Node) *lab.Node {
	if n == l.A {
		return l.B
	}
	return l.A
}

// skew is VRRP's skew time for a node of priority prio: the floor of a
// takeover after the master sends a priority-0 advert.
func skew(prio int, advert time.Duration) time.Duration {
	return time.Duration(float64(256-prio) / 256 * float64(advert))
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile returns the nearest-rank p-th percentile of ds (0 for none).
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n), 1-based
	return s[max(rank, 1)-1]
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// secs formats d as seconds with two decimals ("0.62 s").
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// msecs formats d in milliseconds ("618 ms").
func msecs(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// chooseModes parses a --modes list against the known mode names and
// returns the chosen ones, checked before any of them runs: a misspelled
// mode must not cost the minutes of the modes before it.
// registerScenarioFlags adds --scenarios (default: all of names) and --runs
// to fs, as the scenario commands (faults, three) share them.
func registerScenarioFlags(fs *flag.FlagSet, names []string) (list *string, runs *int) {
	list = fs.String("scenarios", strings.Join(names, ","), "scenarios to run: "+strings.Join(names, ", "))
	runs = fs.Int("runs", 1, "runs of each scenario, each on a fresh lab")
	return list, runs
}

func chooseModes(list string, known []string) (map[string]bool, error) {
	chosen := map[string]bool{}
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		if !slices.Contains(known, m) {
			return nil, &usageError{fmt.Sprintf("unknown mode %q (want %s)", m, strings.Join(known, ", "))}
		}
		chosen[m] = true
	}
	return chosen, nil
}

// maxLeaveOverlap is how long both nodes may hold the VIP during a move
// without it counting as a failure. keepalived leaving MASTER sends its
// priority-0 advert before it removes the address, and with priorities
// 254/253 the successor takes over 12 ms later, so on a loaded machine
// both hold it for a few milliseconds (seen once in 32 cutovers). The
// old holder is fenced by then, so no write lands on both; an overlap
// longer than this is a real dual master and fails the run. Every
// overlap is printed either way.
const maxLeaveOverlap = 250 * time.Millisecond
