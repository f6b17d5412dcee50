package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hacheck/hacheck/internal/lab"
)

func cmdUp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
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
