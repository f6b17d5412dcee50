// Command hacheck-lab is a development tool: it runs hacheck and keepalived
// (and MariaDB) on a two-node (or three-node) network-namespace lab on this machine, for
// trying hacheck out, for the demo and for benchmarks. It needs root, ip
// and keepalived. Addresses are from 192.0.2.0/24 inside the lab's own
// namespaces; nothing is sent anywhere else.
//
//	hacheck-lab up      [flags]   build a lab that stays up; prints how to use it
//	hacheck-lab status  [flags]   who holds the VIP, each node's state and MySQL read_only
//	hacheck-lab down    [flags]   tear down labs (all of them by default)
//	hacheck-lab demo    [flags]   cutover under a writer: timeline, verdict (exit 1 if a write was lost)
//	hacheck-lab bench-failover [flags]   drain-to-VIP-moved: hacheck vs a polled shell script
//	hacheck-lab bench-cutover  [flags]   cutovers under a writer: hacheck vs a hand-written runbook
//	hacheck-lab faults  [flags]   unplanned failures under a writer: invariants, write gap, time to resume
//	hacheck-lab three   [flags]   three-node moves (drain --to, automatic choice) under a writer: invariants
//
// Run `hacheck-lab CMD -h` for the flags of each.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name  string
	short string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"up", "build a lab that stays up (MariaDB pair, hacheck serve, keepalived)", cmdUp},
		{"status", "show who holds the VIP, each node's hacheck status and MySQL read_only", cmdStatus},
		{"down", "tear down labs: the named one, or all", cmdDown},
		{"demo", "drain the MariaDB primary under a writer; timeline and lost-write verdict", cmdDemo},
		{"bench-failover", "drain-to-VIP-moved times: hacheck vs a polled shell vrrp_script", cmdBenchFailover},
		{"bench-cutover", "many MySQL cutovers under a writer: hacheck vs a hand-written runbook", cmdBenchCutover},
		{"accident", "a copy job every second on both nodes through `hacheck run --role primary`, across moves, under a writer", cmdAccident},
		{"faults", "unplanned failures (keepalived stopped, node killed, partition, frozen mysqld) under a writer", cmdFaults},
		{"three", "three-node moves (`drain --to`, the automatic choice) under a writer, invariants sampled throughout", cmdThree},
	}
}

// usageError is a bad command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		fmt.Fprintf(stderr, "hacheck-lab %s: %v\n", c.name, err)
		if _, ok := err.(*usageError); ok {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "hacheck-lab: unknown command %q (see `hacheck-lab help`)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hacheck-lab COMMAND [flags]  (run as root; see COMMAND -h)")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.short)
	}
}
