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
		{name: "hacheck", label: "hacheck: `drain --follow` (fence, GTID catch-up, answer, flip) + promotion (serve on the VIP's arrival, or notify); example config, " + prios + ", advert_int 1", advert: time.Second, template: example(false), hacheck: true},
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

// workload is what runs through the VIP during a series of cutovers: the
// insert writer alone, or with the transactional workload beside it.
type workload struct {
	name, label string
	txn         txnConfig // threads 0: none
}

// txnDefaultThreads is the transactional workload of the busy-drain
// issue: 8 clients on hot rows (as TestCutoverUnderWriter).
const txnDefaultThreads = 8

func workloads(list string, tc txnConfig) ([]workload, error) {
	if tc.threads == 0 {
		tc.threads = txnDefaultThreads
	}
	all := []workload{
		{name: "insert", label: "insert writer"},
		{name: "txn", label: fmt.Sprintf("insert writer + %d-client transactions", tc.threads), txn: tc},
	}
	var names []string
	for _, w := range all {
		names = append(names, w.name)
	}
	want, err := chooseModes(list, names)
	if err != nil {
		return nil, fmt.Errorf("--workloads: %w", err)
	}
	var out []workload
	for _, w := range all {
		if want[w.name] {
			out = append(out, w)
		}
	}
	return out, nil
}

// series is one setup under one workload.
type series struct {
	mode cutoverMode
	load workload
	sum  cutoverSummary
}

func cmdBenchCutover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-cutover", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	runs := fs.Int("runs", 20, "cutovers per setup and workload, alternating a->b and b->a")
	modes := fs.String("modes", "hacheck,hacheck-old,baseline", "setups to run: hacheck, hacheck-old, baseline, hacheck-v3, baseline-v3")
	loads := fs.String("workloads", "insert,txn", "workloads to run in each setup's lab: insert (the insert writer alone), txn (the insert writer and the transactional workload, --txn-threads clients, 8 when 0)")
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
	wls, err := workloads(*loads, *tc)
	if err != nil {
		return &usageError{err.Error()}
	}
	tmp, err := os.MkdirTemp("", "hacheck-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var done []series
	var failures []error
	for _, m := range cutoverModes() {
		if !want[m.name] {
			continue
		}
		ss, err := benchCutoverMode(ctx, c, m, wls, *runs, *wc, tmp, stderr)
		done = append(done, ss...)
		for _, x := range ss {
			s := x.sum
			if s.lost > 0 || s.overlaps > 0 || len(s.violations) > 0 {
				failures = append(failures, fmt.Errorf("setup %s, workload %s: %d acknowledged writes lost, VIP on both nodes for more than %v %d times (all overlaps: %v), %d times a writable node without the VIP %v",
					m.name, x.load.name, s.lost, maxLeaveOverlap, s.overlaps, s.overlapAt, len(s.violations), s.violations[:min(3, len(s.violations))]))
			}
		}
		if err != nil {
			printCutoverTable(stdout, done, *wc)
			return fmt.Errorf("setup %s: %w", m.name, err)
		}
	}
	printCutoverTable(stdout, done, *wc)
	return errors.Join(failures...)
}

// benchCutoverMode builds one lab for setup m and runs every workload in
// it, one after another, runs cutovers each.
func benchCutoverMode(ctx context.Context, c commonFlags, m cutoverMode, wls []workload, runs int, wc writerConfig, tmp string, stderr io.Writer) (out []series, err error) {
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
	obs, err := newObservers(l)
	if err != nil {
		return nil, err
	}
	defer obs.Close()
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
		return nil, err
	}
	fmt.Fprintf(stderr, "%s: lab %s up, a is the primary\n", m.name, l.ID)
	from, first := l.A, int64(0)
	for _, wl := range wls {
		var s cutoverSummary
		s, from, first, err = benchWorkload(ctx, l, dbs, obs, m, wl, runs, wc, from, first, stderr)
		out = append(out, series{mode: m, load: wl, sum: s})
		if err != nil {
			return out, fmt.Errorf("workload %s: %w", wl.name, err)
		}
	}
	return out, nil
}

// benchWorkload runs the writer (and the transactional workload) and
// runs cutovers from the primary from, alternating. It returns the
// primary at the end and the writer's last id (the next writer's ids start
// after it).
func benchWorkload(ctx context.Context, l *lab.Lab, dbs map[*lab.Node]*dbNode, obs *observers, m cutoverMode, wl workload, runs int, wc writerConfig, from *lab.Node, first int64, stderr io.Writer) (s cutoverSummary, _ *lab.Node, last int64, err error) {
	mon := obs.mon
	overlapsBefore := len(mon.Overlaps())
	w, err := startWriterAfter(l, wc, first)
	if err != nil {
		return s, from, first, err
	}
	var load *txnload.Load
	var lc txnload.Config
	if wl.txn.threads > 0 {
		if load, lc, err = startTxnLoad(ctx, l, dbs[from], wl.txn, wc.connectTimeout); err != nil {
			w.Stop()
			return s, from, first, err
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
		return s, from, first, err
	}
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
			return s, from, first, fmt.Errorf("cutover %d (%s->%s): %w", i+1, from.Name, to.Name, err)
		}
		s.runs = append(s.runs, r)
		fmt.Fprintf(stderr, "%s/%s: cutover %d/%d %s->%s at %s: VIP moved after %s, writes blocked %s\n", m.name, wl.name, i+1, runs, from.Name, to.Name, r.start.Format("15:04:05.000"), msecs(r.vipMove), msecs(r.blocked))
		if err := sleepCtx(ctx, time.Second); err != nil {
			stopAll()
			return s, from, first, err
		}
		from = to
	}
	acks := stopAll()
	for _, a := range acks {
		first = max(first, a.id)
	}
	// from is the final primary; the other node must also catch up.
	lost, _, err := verifyAcks(ctx, dbs[from], acks)
	if err != nil {
		return s, from, first, err
	}
	s.acked, s.lost = len(acks), len(lost)
	for _, o := range mon.Overlaps()[overlapsBefore:] {
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
			return s, from, first, terr
		}
	}
	return s, from, first, mon.Err()
}

func printCutoverTable(w io.Writer, done []series, wc writerConfig) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| setup | workload | runs | drain→VIP p50 | p95 | max | writes blocked p50 | p95 | max | acknowledged | lost | VIP on both | writable without VIP |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	med := map[string]time.Duration{}
	for _, x := range done {
		s := x.sum
		var vip, blk []time.Duration
		for _, r := range s.runs {
			vip = append(vip, r.vipMove)
			blk = append(blk, r.blocked)
		}
		med[x.mode.name+"/"+x.load.name] = median(blk)
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %d | %d |\n", x.mode.label, x.load.label, len(s.runs),
			msecs(median(vip)), msecs(percentile(vip, 95)), msecs(maxOf(vip)),
			msecs(median(blk)), msecs(percentile(blk, 95)), msecs(maxOf(blk)),
			s.acked, s.lost, s.overlaps, len(s.violations))
	}
	fmt.Fprintln(w)
	for _, x := range done {
		for _, pair := range [][2]string{{"baseline", "hacheck"}, {"hacheck-old", "hacheck"}, {"baseline-v3", "hacheck-v3"}} {
			if x.mode.name != pair[1] {
				continue
			}
			if a, b := med[pair[0]+"/"+x.load.name], med[pair[1]+"/"+x.load.name]; a > 0 && b > 0 {
				fmt.Fprintf(w, "Write-blocked window, %s / %s, %s (p50): %.1f×.\n", pair[0], pair[1], x.load.name, a.Seconds()/b.Seconds())
			}
		}
	}
	fmt.Fprintf(w, "Writer: one INSERT every %v through the VIP from the client namespace, connect timeout %v, reconnecting on error; lost = acknowledged ids missing on the final primary. p95 is nearest-rank: with fewer than 20 runs it is the max. drain→VIP: from hacheck-lab starting `hacheck drain` (or the baseline's first statement) to the VIP's address appearing on the new holder (netlink).\n", wc.interval, wc.connectTimeout)
	for _, x := range done {
		if x.sum.txn != "" {
			fmt.Fprintf(w, "- %s, %s: %s\n", x.mode.label, x.load.label, x.sum.txn)
		}
	}
	for _, x := range done {
		if len(x.sum.runs) > 0 {
			printPhaseTable(w, x.mode.name+", "+x.load.label, x.sum.runs)
		}
	}
}
