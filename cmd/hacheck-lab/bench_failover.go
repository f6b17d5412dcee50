package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// failoverMode is one way of telling the master to step down.
type failoverMode struct {
	name  string // short name for --modes
	label string // row label of the table
	// template returns the keepalived template path and per-node params
	// (nil: examples/keepalived.conf).
	template func(dir string) (string, func(*lab.Node) map[string]string, error)
	prepare  func(ctx context.Context, l *lab.Lab) error              // make both nodes eligible before keepalived starts
	down     func(ctx context.Context, l *lab.Lab, n *lab.Node) error // tell n to step down
	up       func(ctx context.Context, l *lab.Lab, n *lab.Node) error // make n eligible again
}

func failoverModes() []failoverMode {
	return []failoverMode{
		{
			name:  "hacheck",
			label: "`hacheck drain` (track file weight 0 + `hacheck check` every 1 s)",
			template: func(string) (string, func(*lab.Node) map[string]string, error) {
				return "", nil, nil
			},
			prepare: func(ctx context.Context, l *lab.Lab) error {
				for _, n := range l.Pair() {
					if _, err := hacheckOn(ctx, l, n, "undrain", "--reason", "bench"); err != nil {
						return err
					}
				}
				return nil
			},
			down: func(ctx context.Context, l *lab.Lab, n *lab.Node) error {
				_, err := hacheckOn(ctx, l, n, "drain", "--reason", "bench")
				return err
			},
			up: func(ctx context.Context, l *lab.Lab, n *lab.Node) error {
				_, err := hacheckOn(ctx, l, n, "undrain", "--reason", "bench")
				return err
			},
		},
		{
			name:  "shell",
			label: "shell vrrp_script reading a true/false file (interval 2, fall 2, no track file)",
			template: func(dir string) (string, func(*lab.Node) map[string]string, error) {
				p, err := writeTemplate(dir, "baseline.conf", baselineKeepalivedConf)
				return p, baselineParams, err
			},
			prepare: func(ctx context.Context, l *lab.Lab) error { return installBaseline(l) },
			down:    func(ctx context.Context, l *lab.Lab, n *lab.Node) error { return setFlag(n, false) },
			up:      func(ctx context.Context, l *lab.Lab, n *lab.Node) error { return setFlag(n, true) },
		},
	}
}

// failoverRun is one measured move of the VIP.
type failoverRun struct {
	from, to *lab.Node
	took     time.Duration // trigger -> VIP on the new holder
	floor    time.Duration
}

func cmdBenchFailover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-failover", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	runs := fs.Int("runs", 10, "moves per mode, alternating a->b and b->a")
	modes := fs.String("modes", "hacheck,shell", "comma-separated modes to run: hacheck, shell")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *runs < 1 {
		return &usageError{"--runs must be at least 1"}
	}
	if err := c.check(); err != nil {
		return err
	}
	var known []string
	for _, m := range failoverModes() {
		known = append(known, m.name)
	}
	want, err := chooseModes(*modes, known)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hacheck-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(tmp)

	results := map[string][]failoverRun{}
	var order []failoverMode
	for _, m := range failoverModes() {
		if !want[m.name] {
			continue
		}
		order = append(order, m)
		rs, err := benchFailoverMode(ctx, c, m, *runs, tmp, stderr)
		if err != nil {
			return fmt.Errorf("mode %s: %w", m.name, err)
		}
		results[m.name] = rs
	}
	printFailoverTable(stdout, order, results)
	return nil
}

func benchFailoverMode(ctx context.Context, c commonFlags, m failoverMode, runs int, tmp string, stderr io.Writer) (rs []failoverRun, err error) {
	tpl, params, err := m.template(tmp)
	if err != nil {
		return nil, err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, KeepalivedExample: tpl, KeepalivedParams: params, Logger: c.logger(stderr)})
	cancel()
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	if err := m.prepare(ctx, l); err != nil {
		return nil, err
	}
	mon, err := l.MonitorVIP()
	if err != nil {
		return nil, err
	}
	defer mon.Close()
	if err := l.StartPair(ctx, 1500*time.Millisecond); err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "%s: lab %s up, a holds the VIP\n", m.name, l.ID)
	holder := l.A
	for i := range runs {
		from, to := holder, other(l, holder)
		t0 := time.Now()
		if err := m.down(ctx, l, from); err != nil {
			return rs, err
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := mon.WaitHolder(wctx, to)
		cancel()
		if err != nil {
			return rs, fmt.Errorf("run %d: %w", i+1, err)
		}
		added := mon.AddedSince(to, t0)
		if len(added) == 0 {
			return rs, fmt.Errorf("run %d: no VIP event on %s", i+1, to.Name)
		}
		r := failoverRun{from: from, to: to, took: added[0].Sub(t0), floor: skew(to.Priority, time.Second)}
		rs = append(rs, r)
		fmt.Fprintf(stderr, "%s: run %d/%d %s->%s: VIP moved after %s (floor %s)\n", m.name, i+1, runs, from.Name, to.Name, msecs(r.took), msecs(r.floor))

		// Make the old holder eligible again and let it settle as BACKUP.
		off := lab.LogSize(from.KeepalivedLog)
		if err := m.up(ctx, l, from); err != nil {
			return rs, err
		}
		wctx, cancel = context.WithTimeout(ctx, 20*time.Second)
		_, err = lab.WaitForLog(wctx, from.KeepalivedLog, off, "Entering BACKUP STATE")
		cancel()
		if err != nil {
			return rs, fmt.Errorf("run %d: %s back to BACKUP: %w", i+1, from.Name, err)
		}
		if err := sleepCtx(ctx, 1500*time.Millisecond); err != nil {
			return rs, err
		}
		holder = to
	}
	if err := mon.Err(); err != nil {
		return rs, err
	}
	if o := mon.Overlaps(); len(o) > 0 {
		return rs, fmt.Errorf("the VIP was on both nodes at once %d times (first for %v)", len(o), o[0].Duration())
	}
	return rs, nil
}

func printFailoverTable(w io.Writer, order []failoverMode, results map[string][]failoverRun) {
	split := func(rs []failoverRun) (all, toB, toA []time.Duration) {
		for _, r := range rs {
			all = append(all, r.took)
			if r.to.Name == "b" {
				toB = append(toB, r.took)
			} else {
				toA = append(toA, r.took)
			}
		}
		return
	}
	floorB, floorA := skew(lab.PriorityB, time.Second), skew(lab.PriorityA, time.Second)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| how the master is told to step down | runs | median | max | a→b median | b→a median |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, m := range order {
		all, toB, toA := split(results[m.name])
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", m.label, len(all), secs(median(all)), secs(maxOf(all)), secs(median(toB)), secs(median(toA)))
	}
	fmt.Fprintf(w, "| VRRP floor: skew time (256 − peer priority)/256 × advert_int 1 s | – | – | – | %s | %s |\n", secs(floorB), secs(floorA))
	if h, s := results["hacheck"], results["shell"]; len(h) > 0 && len(s) > 0 {
		ha, _, _ := split(h)
		sa, _, _ := split(s)
		fmt.Fprintf(w, "\nThe shell script's median is %.1f× hacheck's. Times run from the trigger (`hacheck drain` started / flag file renamed) to the VIP appearing on the peer (netlink); priorities a %d, b %d; advert_int 1 s; nopreempt.\n",
			median(sa).Seconds()/median(ha).Seconds(), lab.PriorityA, lab.PriorityB)
	}
}
