package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// cmdUp builds a lab that outlives this command: MariaDB primary on A and
// GTID replica on B, hacheck serve on both, keepalived with
// examples/keepalived.conf (track file, hacheck check, hacheck notify).
// With --nodes 3 a second replica on D, every node's hacheck.yaml from
// examples/hacheck-three.yaml and keepalived.conf from
// examples/keepalived-three.conf.
func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	nodes := fs.Int("nodes", 2, "database nodes: 2 (a primary, b replica) or 3 (a primary, b and d replicas)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *nodes != 2 && *nodes != 3 {
		return &usageError{fmt.Sprintf("--nodes %d: want 2 or 3", *nodes)}
	}
	if err := c.check(); err != nil {
		return err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, Persistent: true, Logger: c.logger(stderr), Nodes: *nodes})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if cerr := l.Close(); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}
	}()
	replicas := "b replica"
	if l.D != nil {
		replicas = "b and d replicas"
	}
	fmt.Fprintf(stderr, "lab %s: starting MariaDB (a primary, %s), hacheck serve and keepalived...\n", l.ID, replicas)
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dbs, err := upMySQLLab(uctx, l, true)
	for _, d := range dbs {
		d.db.Close()
	}
	if err != nil {
		return err
	}
	ns := func(n *lab.Node) string { return "ip netns exec " + n.NS }
	if l.D != nil {
		printThreeUp(stdout, l, ns)
		return nil
	}
	fmt.Fprintf(stdout, `lab %[1]s is up: a (%[2]s) holds the VIP %[4]s and its MariaDB is the primary; b (%[3]s) replicates.

  status of a node:   %[5]s %[6]s status --config %[7]s
  drain a (cutover):  %[5]s %[6]s drain --follow --config %[7]s
  then undrain it:    %[5]s %[6]s undrain --config %[7]s
  from the client:    %[8]s mariadb -h %[9]s -u %[10]s -p%[11]s demo
  whole lab:          hacheck-lab status        (who holds the VIP, read_only)
  keepalived log:     %[12]s
  tear down:          hacheck-lab down

(b: %[13]s ... --config %[14]s)
`, l.ID, l.A.Addr.Addr(), l.B.Addr.Addr(), lab.VIP, ns(l.A), l.A.Hacheck, l.A.HacheckConfig,
		ns(l.Client), lab.VIP.Addr(), appUser, appPass, l.A.KeepalivedLog, ns(l.B), l.B.HacheckConfig)
	return nil
}

// cmdStatus shows, for each lab (or --id), who holds the VIP and, per node,
// hacheck status and MySQL read_only.
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	base := fs.String("base", lab.DefaultBase, "parent directory of lab directories")
	id := fs.String("id", "", "only this lab")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	ids := []string{*id}
	if *id == "" {
		var err error
		if ids, err = lab.List(*base); err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintln(stdout, "no lab is up")
			return nil
		}
	}
	var errs []error
	for _, i := range ids {
		l, err := lab.Open(*base, i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		holders, err := l.VIPHolders()
		who := strings.Join(names(holders), " and ")
		switch {
		case err != nil:
			who = "unknown: " + err.Error()
		case len(holders) == 0:
			who = "nobody"
		case len(holders) > 1:
			who += " (BOTH: split brain)"
		}
		fmt.Fprintf(stdout, "lab %s: VIP %s held by %s\n", l.ID, lab.VIP, who)
		dbs := openDBNodes(l)
		for _, n := range l.Keepalived() {
			ro := "no server"
			if d := dbs[n]; d != nil {
				v, err := d.readOnly(ctx)
				ro = fmt.Sprintf("read_only=%v", v)
				if err != nil {
					ro = "unreachable: " + err.Error()
				}
				d.db.Close()
			}
			out, _ := hacheckOn(ctx, l, n, "status")
			fmt.Fprintf(stdout, "\n== node %s (%s): MySQL %s\n%s\n", n.Name, n.Addr.Addr(), ro, out)
		}
	}
	return errors.Join(errs...)
}

func names(nodes []*lab.Node) []string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return s
}

// cmdDown tears down labs. Without flags: every lab built by `up` and every
// lab whose owning test or benchmark process is gone. --orphans: only the
// latter (safe while tests run). --id: that one lab. --all: every lab,
// including those of running tests.
func cmdDown(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	base := fs.String("base", lab.DefaultBase, "parent directory of lab directories")
	id := fs.String("id", "", "tear down only this lab")
	orphans := fs.Bool("orphans", false, "only labs whose owning process has exited")
	all := fs.Bool("all", false, "every lab, also those owned by running tests")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("needs root")
	}
	if *id != "" {
		if err := lab.Down(*base, *id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "lab %s down\n", *id)
		return nil
	}
	reaped, err := lab.ReapOrphans(*base)
	for _, r := range reaped {
		fmt.Fprintf(stdout, "lab %s down (its owner had exited)\n", r)
	}
	if *orphans {
		return err
	}
	errs := []error{err}
	ids, lerr := lab.List(*base)
	errs = append(errs, lerr)
	for _, i := range ids {
		if !*all {
			p, err := lab.Persistent(*base, i)
			if err != nil || !p {
				continue // being built or owned by a running process
			}
		}
		if err := lab.Down(*base, i); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "lab %s down\n", i)
	}
	return errors.Join(errs...)
}
