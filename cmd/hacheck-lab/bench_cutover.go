package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/txnload"
)

// cutoverMode is one way of moving the primary.
type cutoverMode struct {
	name, label string
	advert      time.Duration
	template    func(dir string) (string, func(*lab.Node) map[string]string, error)
	hacheck     bool // hacheck drain/notify; else the hand-written baseline
}

func cutoverModes() []cutoverMode {
	example := func(fast bool) func(string) (string, func(*lab.Node) map[string]string, error) {
		return func(dir string) (string, func(*lab.Node) map[string]string, error) {
			p, err := lab.RepoFile("examples/keepalived.conf")
			if err != nil {
				return "", nil, err
			}
			if !fast {
				return p, nil, nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", nil, err
			}
			src, err := fastAdvert(string(b))
			if err != nil {
				return "", nil, err
			}
			p, err = writeTemplate(dir, "fast.conf", src)
			return p, nil, err
		}
	}
	// oldPriorities renders the example with the priorities it shipped
	// with before: 150 on a, 100 on b (skew times 0.41 s and 0.61 s).
	oldPriorities := func(n *lab.Node) map[string]string {
		if n.Name == "a" {
			return map[string]string{"PRIORITY": "150"}
		}
		return map[string]string{"PRIORITY": "100"}
	}
	prios := fmt.Sprintf("priorities %d/%d", lab.PriorityA, lab.PriorityB)
	return []cutoverMode{
		{name: "hacheck", label: "hacheck: `drain --follow` (fence, GTID catch-up, flip) + `notify` promotion; example config, " + prios + ", advert_int 1", advert: time.Second, template: example(false), hacheck: true},
		{name: "hacheck-old", label: "hacheck as above, old priorities 150/100; advert_int 1", advert: time.Second, hacheck: true,
			template: func(dir string) (string, func(*lab.Node) map[string]string, error) {
				p, _, err := example(false)(dir) // the example takes no extra params
				return p, oldPriorities, err
			}},
		{name: "baseline", label: "baseline: shell vrrp_script (interval 2, fall 2) + fence/catch-up/promotion by hand-written SQL; " + prios + ", advert_int 1", advert: time.Second, hacheck: false,
			template: func(dir string) (string, func(*lab.Node) map[string]string, error) {
				p, err := writeTemplate(dir, "baseline.conf", baselineKeepalivedConf)
				return p, baselineParams, err
			}},
		{name: "hacheck-v3", label: "hacheck as above, VRRPv3 advert_int 0.1", advert: 100 * time.Millisecond, template: example(true), hacheck: true},
		{name: "baseline-v3", label: "baseline as above, VRRPv3 advert_int 0.1", advert: 100 * time.Millisecond, hacheck: false,
			template: func(dir string) (string, func(*lab.Node) map[string]string, error) {
				src, err := fastAdvert(baselineKeepalivedConf)
				if err != nil {
					return "", nil, err
				}
				p, err := writeTemplate(dir, "baseline-fast.conf", src)
				return p, baselineParams, err
			}},
	}
}

type cutoverSummary struct {
	runs       []cutoverResult
	acked      int
	lost       int
	overlaps   int
	overlapAt  []string // when and how long each overlap was
	violations []string
	txn        string // the transactional workload's verdict, when it ran
}

func cmdBenchCutover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-cutover", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	runs := fs.Int("runs", 20, "cutovers per mode, alternating a->b and b->a")
	modes := fs.String("modes", "hacheck,hacheck-old,baseline", "modes to run: hacheck, hacheck-old, baseline, hacheck-v3, baseline-v3")
	wc := registerWriterFlags(fs)
	tc := registerTxnFlags(fs)
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
	for _, m := range cutoverModes() {
		known = append(known, m.name)
	}
	want, err := chooseModes(*modes, known)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hacheck-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var order []cutoverMode
	res := map[string]cutoverSummary{}
	var failures []error
	for _, m := range cutoverModes() {
		if !want[m.name] {
			continue
		}
		order = append(order, m)
		s, err := benchCutoverMode(ctx, c, m, *runs, *wc, *tc, tmp, stderr)
		res[m.name] = s
		if err != nil {
			return fmt.Errorf("mode %s: %w", m.name, err)
		}
		if s.lost > 0 || s.overlaps > 0 || len(s.violations) > 0 {
			failures = append(failures, fmt.Errorf("mode %s: %d acknowledged writes lost, VIP on both nodes for more than %v %d times (all overlaps: %v), %d times a writable node without the VIP %v",
				m.name, s.lost, maxLeaveOverlap, s.overlaps, s.overlapAt, len(s.violations), s.violations[:min(3, len(s.violations))]))
		}
	}
	printCutoverTable(stdout, order, res, *wc, *tc)
	return errors.Join(failures...)
}

func benchCutoverMode(ctx context.Context, c commonFlags, m cutoverMode, runs int, wc writerConfig, tc txnConfig, tmp string, stderr io.Writer) (s cutoverSummary, err error) {
	tpl, params, err := m.template(tmp)
	if err != nil {
		return s, err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Base: c.base, KeepalivedExample: tpl, KeepalivedParams: params, Logger: c.logger(stderr)})
	cancel()
	if err != nil {
		return s, err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	obs, err := newObservers(l)
	if err != nil {
		return s, err
	}
	defer obs.Close()
	mon := obs.mon
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	var dbs map[*lab.Node]*dbNode
	if m.hacheck {
		dbs, err = upMySQLLab(uctx, l, true)
	} else {
		dbs, err = upBaselineLab(uctx, l)
	}
	cancel()
	defer func() {
		for _, d := range dbs {
			d.db.Close()
		}
	}()
	if err != nil {
		return s, err
	}
	fmt.Fprintf(stderr, "%s: lab %s up, a is the primary\n", m.name, l.ID)
	w, err := startWriter(l, wc)
	if err != nil {
		return s, err
	}
	var load *txnload.Load
	var lc txnload.Config
	if tc.threads > 0 {
		if load, lc, err = startTxnLoad(ctx, l, dbs[l.A], tc, wc.connectTimeout); err != nil {
			w.Stop()
			return s, err
		}
		defer load.Stop()
	}
	// Invariant: a writable server is on the node that holds the VIP. Read
	// read_only first, then the holders: a promotion follows the VIP, so
	// this order cannot see a false violation.
	ictx, stopInv := context.WithCancel(ctx)
	var invWG sync.WaitGroup
	var invMu sync.Mutex
	invWG.Go(func() {
		for ictx.Err() == nil {
			for _, n := range l.Pair() {
				ro, err := dbs[n].readOnly(ictx)
				if err != nil || ro {
					continue
				}
				if held, err := l.HasVIP(n); err == nil && !held {
					invMu.Lock()
					s.violations = append(s.violations, fmt.Sprintf("%s writable without the VIP at %s", n.Name, time.Now().Format("15:04:05.000")))
					invMu.Unlock()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	stopAll := func() []ack {
		stopInv()
		invWG.Wait()
		return w.Stop()
	}
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		stopAll()
		return s, err
	}
	from := l.A
	for i := range runs {
		to := other(l, from)
		var r cutoverResult
		if m.hacheck {
			r, err = hacheckCutover(ctx, l, dbs, obs, w, from, to)
		} else {
			r, err = baselineCutover(ctx, l, dbs, obs, w, from, to)
		}
		if err != nil {
			stopAll()
			return s, fmt.Errorf("cutover %d (%s->%s): %w", i+1, from.Name, to.Name, err)
		}
		s.runs = append(s.runs, r)
		fmt.Fprintf(stderr, "%s: cutover %d/%d %s->%s at %s: VIP moved after %s, writes blocked %s\n", m.name, i+1, runs, from.Name, to.Name, r.start.Format("15:04:05.000"), msecs(r.vipMove), msecs(r.blocked))
		if err := sleepCtx(ctx, time.Second); err != nil {
			stopAll()
			return s, err
		}
		from = to
	}
	acks := stopAll()
	// from is the final primary; the other node must also catch up.
	lost, _, err := verifyAcks(ctx, dbs[from], acks)
	if err != nil {
		return s, err
	}
	s.acked, s.lost = len(acks), len(lost)
	for _, o := range mon.Overlaps() {
		s.overlapAt = append(s.overlapAt, fmt.Sprintf("%s for %s", o.From.Format("15:04:05.000"), msecs(o.Duration())))
		if o.Duration() > maxLeaveOverlap {
			s.overlaps++
		}
	}
	if load != nil {
		var b strings.Builder
		terr := verifyTxnLoad(ctx, &b, load, lc, dbs[from], dbs[other(l, from)])
		s.txn = strings.Join(strings.Fields(b.String()), " ")
		if terr != nil {
			return s, terr
		}
	}
	return s, mon.Err()
}

func printCutoverTable(w io.Writer, order []cutoverMode, res map[string]cutoverSummary, wc writerConfig, tc txnConfig) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| cutover | runs | drain→VIP p50 | p95 | max | writes blocked p50 | p95 | max | acknowledged | lost | VIP on both | writable without VIP |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	med := map[string]time.Duration{}
	for _, m := range order {
		s := res[m.name]
		var vip, blk []time.Duration
		for _, r := range s.runs {
			vip = append(vip, r.vipMove)
			blk = append(blk, r.blocked)
		}
		med[m.name] = median(blk)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %d | %d |\n", m.label, len(s.runs),
			secs(median(vip)), secs(percentile(vip, 95)), secs(maxOf(vip)),
			secs(median(blk)), secs(percentile(blk, 95)), secs(maxOf(blk)),
			s.acked, s.lost, s.overlaps, len(s.violations))
	}
	fmt.Fprintln(w)
	for _, pair := range [][2]string{{"baseline", "hacheck"}, {"hacheck-old", "hacheck"}, {"baseline-v3", "hacheck-v3"}} {
		if a, b := med[pair[0]], med[pair[1]]; a > 0 && b > 0 {
			fmt.Fprintf(w, "Write-blocked window, %s / %s (p50): %.1f×.\n", pair[0], pair[1], a.Seconds()/b.Seconds())
		}
	}
	if h, b := med["hacheck-v3"], med["baseline-v3"]; h > 0 && b > 0 {
		fmt.Fprintf(w, "Write-blocked window with VRRPv3 0.1 s, baseline / hacheck (medians): %.1f×.\n", b.Seconds()/h.Seconds())
	}
	fmt.Fprintf(w, "Writer: one INSERT every %v through the VIP from the client namespace, connect timeout %v, reconnecting on error; lost = acknowledged ids missing on the final primary. p95 is nearest-rank: with fewer than 20 runs it is the max.\n", wc.interval, wc.connectTimeout)
	if tc.threads > 0 {
		fmt.Fprintf(w, "Beside it, a transactional workload: %s.\n", tc)
		for _, m := range order {
			fmt.Fprintf(w, "- %s: %s\n", m.label, res[m.name].txn)
		}
	}
}
