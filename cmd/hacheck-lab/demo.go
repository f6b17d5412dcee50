package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/txnload"
)

// cmdDemo builds the MariaDB lab, runs a writer through the VIP from the
// client namespace, drains A with `hacheck drain --follow`, prints the
// timeline and the verdict, and tears everything down. It fails when an
// acknowledged write is missing on the new primary or the VIP was on both
// nodes at once.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	wc := registerWriterFlags(fs)
	tc := registerTxnFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, Logger: c.logger(stderr)})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(stdout, "tearing the lab down")
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	fmt.Fprintf(stdout, "lab %s: MariaDB a (primary) -> b (GTID replica), hacheck serve, keepalived; VIP %s\n", l.ID, lab.VIP)
	obs, err := newObservers(l)
	if err != nil {
		return err
	}
	defer obs.Close()
	mon := obs.mon
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dbs, err := upMySQLLab(uctx, l, true)
	defer func() {
		for _, d := range dbs {
			d.db.Close()
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "a holds the VIP and is writable; starting the writer in the client namespace (one INSERT every %v through %s:3306, connect timeout %v)\n", wc.interval, lab.VIP.Addr(), wc.connectTimeout)
	w, err := startWriter(l, *wc)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			w.Stop()
		}
	}()
	var load *txnload.Load
	var lc txnload.Config
	if tc.threads > 0 {
		fmt.Fprintf(stdout, "starting the transactional workload beside it: %s\n", tc)
		if load, lc, err = startTxnLoad(ctx, l, dbs[l.A], *tc, wc.connectTimeout); err != nil {
			return err
		}
		defer load.Stop()
	}
	if err := sleepCtx(ctx, 3*time.Second); err != nil {
		return err
	}
	if len(w.snapshot()) == 0 {
		_, last := w.stats()
		return fmt.Errorf("the writer has no acknowledged write after 3 s (last error: %s)", last)
	}
	fmt.Fprintf(stdout, "\n$ hacheck drain --follow   (on a)\n")
	r, err := hacheckCutover(ctx, l, dbs, obs, w, l.A, l.B)
	printTimeline(stdout, r)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return err
	}
	acks := w.Stop()
	stopped = true
	fails, _ := w.stats()
	lost, rows, err := verifyAcks(ctx, dbs[l.B], acks)
	if err != nil {
		return err
	}
	var overlaps []time.Duration // longer than maxLeaveOverlap
	for _, o := range mon.Overlaps() {
		if o.Duration() > maxLeaveOverlap {
			overlaps = append(overlaps, o.Duration())
		}
	}
	fmt.Fprintf(stdout, "\nverdict\n")
	var txnErr error
	if load != nil {
		txnErr = verifyTxnLoad(ctx, stdout, load, lc, dbs[l.B], dbs[l.A])
	}
	fmt.Fprintf(stdout, "  VIP move (drain started -> VIP on b):  %s\n", msecs(r.vipMove))
	fmt.Fprintf(stdout, "  write-blocked window:                   %s (last write acknowledged on a -> first on b)\n", msecs(r.blocked))
	fmt.Fprintf(stdout, "  writes acknowledged:                    %d (%d attempts failed during the move; the writer reconnected and went on with new ids)\n", len(acks), fails)
	fmt.Fprintf(stdout, "  writes lost:                            %d (acknowledged ids missing on b, which has %d rows)\n", len(lost), rows)
	fmt.Fprintf(stdout, "  VIP on both nodes at once:              %d times for more than %v (%d in all)\n", len(overlaps), maxLeaveOverlap, len(mon.Overlaps()))
	if len(lost) > 0 || len(overlaps) > 0 {
		return fmt.Errorf("FAILED: %d acknowledged writes lost (first ids %v), VIP on both nodes %d times", len(lost), lost[:min(len(lost), 10)], len(overlaps))
	}
	if txnErr != nil {
		return txnErr
	}
	fmt.Fprintln(stdout, "  OK: no acknowledged write was lost")
	return nil
}
