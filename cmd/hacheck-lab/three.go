package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/txnload"
)

// The three-node scenarios: moves of the primary among a (primary), b and
// d (replicas; priorities 254, 253, 252) of a three-node lab, under the
// insert writer and the transactional workload through the VIP, with the
// fault sampler's invariants checked throughout (never two writable
// servers, a writable server holds the VIP) and, at the end, no
// acknowledged write or transaction missing on the final primary or on the
// replicas that follow it. The VIP monitor watches every node for the
// whole run; "never on b" is read from its watch on b.
type threeScenario struct {
	name, title string
	// preempt renders examples/keepalived-three.conf without its
	// nopreempt line.
	preempt bool
	// run moves the primary and returns the final primary and the
	// replicas that must follow it (checked for the ledger too).
	run func(ctx context.Context, r *threeRun) (final *lab.Node, followers []*lab.Node, err error)
}

func threeScenarios() []threeScenario {
	return []threeScenario{
		{name: "drain-to", title: "`drain --to d` on a: the VIP to d, never on b (the higher priority); b follows d", run: threeDrainTo},
		{name: "auto-choice", title: "d lags: `drain --to d` refused with nothing changed, then `drain` picks b and says why", run: threeAutoChoice},
		{name: "kill-hold", title: "`drain --to d` SIGKILLed while it holds b: rolled back by itself, then done again", run: threeKilled("hold")},
		{name: "kill-fence", title: "`drain --to d` SIGKILLed in its fence: rolled back by itself, then done again", run: threeKilled("fence")},
		{name: "kill-catch-up", title: "`drain --to d` SIGKILLed while d catches up (3 s delay): rolled back by itself, then done again", run: threeKilled("catch-up")},
		{name: "kill-flip", title: "`drain --to d` SIGKILLed right after its flip: d takes over, status names `hacheck follow`, which repoints b", run: threeKilled("flip")},
		{name: "preempt", title: "keepalived without nopreempt: `drain --to d` refused with nothing changed (b would take the VIP back), `drain` picks b", preempt: true, run: threePreempt},
	}
}

// threeRun is one scenario on its own lab.
type threeRun struct {
	l     *lab.Lab
	dbs   map[*lab.Node]*dbNode
	mon   *lab.VIPMonitor
	w     *writer
	log   io.Writer
	start time.Time

	violations []string
	notes      []string
	vipMoves   []time.Duration // drain started -> VIP on the successor, each completed move
	gap        time.Duration   // longest time without an acknowledged write
	acked      int
}

func (r *threeRun) fail(format string, a ...any) {
	r.violations = append(r.violations, fmt.Sprintf(format, a...))
}

func (r *threeRun) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.notes = append(r.notes, msg)
	fmt.Fprintf(r.log, "  %+7.2f s  %s\n", time.Since(r.start).Seconds(), msg)
}

func cmdThree(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("three", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	var known []string
	for _, s := range threeScenarios() {
		known = append(known, s.name)
	}
	list, runs := registerScenarioFlags(fs, known)
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
	want, err := chooseModes(*list, known)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "hacheck-three-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var failures []error
	var order []threeScenario
	results := map[string][]*threeRun{}
	for _, sc := range threeScenarios() {
		if !want[sc.name] {
			continue
		}
		order = append(order, sc)
		for i := range *runs {
			fmt.Fprintf(stderr, "== %s (run %d/%d): %s\n", sc.name, i+1, *runs, sc.title)
			r, err := runThree(ctx, c, sc, *wc, *tc, tmp, stderr)
			if err != nil {
				r.violations = append(r.violations, "scenario did not complete: "+err.Error())
			}
			results[sc.name] = append(results[sc.name], r)
			fmt.Fprintf(stdout, "\n%s (run %d/%d): %s\n", sc.name, i+1, *runs, sc.title)
			for _, n := range r.notes {
				fmt.Fprintf(stdout, "  - %s\n", strings.ReplaceAll(n, "\n", "\n      "))
			}
			if len(r.violations) == 0 {
				fmt.Fprintln(stdout, "  PASS: every invariant held")
			}
			for _, v := range r.violations {
				fmt.Fprintf(stdout, "  FAIL: %s\n", v)
			}
			if len(r.violations) > 0 {
				failures = append(failures, fmt.Errorf("%s: %d violations", sc.name, len(r.violations)))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	printThreeTable(stdout, order, results, *wc)
	return errors.Join(failures...)
}

// printThreeTable summarises the runs of each scenario: how long the
// completed moves took to put the VIP on their successor, and the
// writer's longest time without an acknowledged write.
func printThreeTable(w io.Writer, order []threeScenario, results map[string][]*threeRun, wc writerConfig) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | runs | moves | drain→VIP p50 | p95 | max | longest write gap p50 | p95 | max | acknowledged | runs with violations |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, sc := range order {
		var vip, gap []time.Duration
		acked, failed := 0, 0
		for _, r := range results[sc.name] {
			vip = append(vip, r.vipMoves...)
			gap = append(gap, r.gap)
			acked += r.acked
			if len(r.violations) > 0 {
				failed++
			}
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s | %s | %d | %d |\n", sc.name, len(results[sc.name]), len(vip),
			secs(median(vip)), secs(percentile(vip, 95)), secs(maxOf(vip)),
			secs(median(gap)), secs(percentile(gap, 95)), secs(maxOf(gap)), acked, failed)
	}
	fmt.Fprintf(w, "Writer: one INSERT every %v through the VIP from the client namespace, connect timeout %v, reconnecting on error; a move is every completed drain of a scenario (a kill scenario's second drain included). p95 is nearest-rank: with fewer than 20 values it is the max.\n", wc.interval, wc.connectTimeout)
}

// threeTemplate returns the keepalived.conf template of sc: "" (the
// default, examples/keepalived-three.conf) or a copy without nopreempt.
func threeTemplate(sc threeScenario, dir string) (string, error) {
	if !sc.preempt {
		return "", nil
	}
	p, err := lab.RepoFile("examples/keepalived-three.conf")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var out []string
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "nopreempt" {
			found = true
			continue
		}
		out = append(out, line)
	}
	if !found {
		return "", errors.New("examples/keepalived-three.conf has no nopreempt line to take out")
	}
	return writeTemplate(dir, "three-preempt.conf", strings.Join(out, "\n"))
}

// runThree builds a three-node lab, starts the writers and the sampler,
// runs the scenario and checks the ledger on the final primary and its
// followers.
func runThree(ctx context.Context, c commonFlags, sc threeScenario, wc writerConfig, tc txnConfig, tmp string, stderr io.Writer) (r *threeRun, err error) {
	r = &threeRun{log: stderr, start: time.Now()}
	tpl, err := threeTemplate(sc, tmp)
	if err != nil {
		return r, err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, KeepalivedExample: tpl, Logger: c.logger(stderr), Nodes: 3})
	cancel()
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	mon, err := l.MonitorVIP()
	if err != nil {
		return r, err
	}
	defer mon.Close()
	r.l, r.mon = l, mon
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	r.dbs, err = upMySQLLab(uctx, l, true)
	cancel()
	defer func() {
		for _, d := range r.dbs {
			d.db.Close()
		}
	}()
	if err != nil {
		return r, err
	}
	r.start = time.Now()
	smp, err := startSampler(l, mon, r.start)
	if err != nil {
		return r, err
	}
	w, err := startWriter(l, wc)
	if err != nil {
		smp.Stop()
		return r, err
	}
	r.w = w
	var txn *txnload.Load
	var lc txnload.Config
	if tc.threads > 0 {
		if txn, lc, err = startTxnLoad(ctx, l, r.dbs[l.A], tc, wc.connectTimeout); err != nil {
			w.Stop()
			smp.Stop()
			return r, err
		}
		defer txn.Stop()
	}
	load := ""
	if tc.threads > 0 {
		load = ", " + tc.String()
	}
	r.note("lab %s up: a primary, b and d replicas; writer every %v through the VIP%s", l.ID, wc.interval, load)
	runErr := sleepCtx(ctx, time.Second)
	var final *lab.Node
	var followers []*lab.Node
	if runErr == nil {
		final, followers, runErr = sc.run(ctx, r)
	}
	if runErr == nil {
		runErr = sleepCtx(ctx, time.Second) // writes go on against the new primary
	}
	stopped := time.Now()
	acks := w.Stop()
	smp.Stop()
	r.violations = append(r.violations, smp.violations()...)
	r.note("%s", smp.summary())
	for _, o := range mon.Overlaps() {
		what := fmt.Sprintf("VIP on two nodes at %+.2f s for %s", o.From.Sub(r.start).Seconds(), msecs(o.Duration()))
		if o.Duration() > maxLeaveOverlap {
			r.fail("%s (more than %v)", what, maxLeaveOverlap)
		} else {
			r.note("%s (the old holder leaving MASTER; at most %v is allowed)", what, maxLeaveOverlap)
		}
	}
	if err := mon.Err(); err != nil {
		r.fail("VIP watch incomplete: %v", err)
	}
	if runErr != nil {
		return r, runErr
	}
	fails, last := w.stats()
	r.acked, r.gap = len(acks), longestGap(acks, r.start, stopped)
	r.note("writer: %d writes acknowledged, %d failed (last error: %s); longest time without an acknowledged write %s", len(acks), fails, last, msecs(r.gap))
	r.verifyLedger(ctx, acks, final, followers)
	if txn != nil && len(followers) > 0 {
		var b strings.Builder
		if err := verifyTxnLoad(ctx, &b, txn, lc, r.dbs[final], r.dbs[followers[0]]); err != nil {
			r.fail("transactional workload: %v", err)
		}
		r.note("transactional workload: %s", strings.Join(strings.Fields(b.String()), " "))
	}
	return r, nil
}

// verifyLedger checks that every acknowledged write is on the final
// primary and, once each has caught up, on every follower.
func (r *threeRun) verifyLedger(ctx context.Context, acks []ack, final *lab.Node, followers []*lab.Node) {
	for _, n := range append([]*lab.Node{final}, followers...) {
		if n != final {
			cu := catchUp(ctx, r.dbs[n], r.dbs[final])
			if !strings.HasPrefix(cu, "caught up") {
				r.fail("%s does not follow %s: %s", n.Name, final.Name, cu)
				continue
			}
		}
		lost, rows, err := verifyAcks(ctx, r.dbs[n], acks)
		switch {
		case err != nil:
			r.fail("read the writes on %s: %v", n.Name, err)
		case len(lost) > 0:
			r.fail("%d of %d acknowledged writes missing on %s (%d rows there); first ids %v", len(lost), len(acks), n.Name, rows, lost[:min(5, len(lost))])
		default:
			r.note("all %d acknowledged writes are on %s (%d rows)", len(acks), n.Name, rows)
		}
	}
}

// hacheck runs hacheck with args and n's --config in n's namespace,
// bounded by 60 s, and returns its combined output and exit code (-1 when
// it did not run or was killed).
func (r *threeRun) hacheck(ctx context.Context, n *lab.Node, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// In n's network namespace only, as an operator's shell on that host
	// runs it: serve (in the machine's mount namespace) then takes the
	// drains the front hands it. (`ip netns exec` would give the command
	// a mount namespace of its own, and serve would refuse them.)
	cmd := exec.CommandContext(ctx, n.Hacheck, append(args, "--config", n.HacheckConfig)...)
	cmd.WaitDelay = 2 * time.Second
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := r.l.StartIn(n, cmd)
	if err == nil {
		err = cmd.Wait()
	}
	out := buf.Bytes()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		out = append(out, []byte("\n"+err.Error())...)
	}
	return strings.TrimSpace(string(out)), code
}

// successorLine is the line of a drain's output that starts "successor: ",
// or "".
func successorLine(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "successor: ") {
			return l
		}
	}
	return ""
}

// nodeState is what n's state.json says: "up", "drained", ..., and
// whether it carries a hold.
func nodeState(n *lab.Node) (state string, held bool, err error) {
	b, err := os.ReadFile(filepath.Join(n.StateDir, "state.json"))
	if err != nil {
		return "", false, fmt.Errorf("state of %s: %w", n.Name, err)
	}
	var st struct {
		State string          `json:"state"`
		Hold  json.RawMessage `json:"hold"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return "", false, fmt.Errorf("state of %s: %w", n.Name, err)
	}
	return st.State, len(st.Hold) > 0 && string(st.Hold) != "null", nil
}

// expectState records a violation unless n's state is want with no hold.
func (r *threeRun) expectState(n *lab.Node, want string) {
	st, held, err := nodeState(n)
	switch {
	case err != nil:
		r.fail("%v", err)
	case st != want:
		r.fail("%s is %s, want %s", n.Name, st, want)
	case held:
		r.fail("%s still carries a hold", n.Name)
	}
}

// replicatesFrom waits (at most 10 s) until n's server replicates from
// src with both threads running.
func (r *threeRun) replicatesFrom(ctx context.Context, n, src *lab.Node) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var st map[string]string
	var err error
	for {
		qctx, qcancel := context.WithTimeout(ctx, 2*time.Second)
		st, err = mariadbd.SlaveStatus(qctx, r.dbs[n].db)
		qcancel()
		if err == nil && st["Master_Host"] == src.Addr.Addr().String() && st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
			return nil
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return fmt.Errorf("%s does not replicate from %s (%s): source %q, IO %q, SQL %q, error %q %q (%v)", n.Name, src.Name, src.Addr.Addr(),
				st["Master_Host"], st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Last_IO_Error"], st["Last_SQL_Error"], err)
		}
	}
}

// vipOn records a violation unless only n holds the VIP now (netlink).
func (r *threeRun) vipOn(n *lab.Node) {
	hs, err := r.l.VIPHolders()
	if err != nil {
		r.fail("read the VIP holders: %v", err)
	} else if len(hs) != 1 || hs[0] != n {
		r.fail("VIP held by %v, want %s alone", names(hs), n.Name)
	}
}

// vipEverOn returns the times (relative to the run start) the monitor saw
// the VIP appear on n.
func (r *threeRun) vipEverOn(n *lab.Node) []string {
	var at []string
	for _, ev := range r.mon.Events() {
		if ev.Node == n && ev.Added {
			at = append(at, fmt.Sprintf("%+.3f s", ev.At.Sub(r.start).Seconds()))
		}
	}
	return at
}

// moveDone checks what a successful move from a to to leaves: the VIP on
// to (within 15 s) and writable, a drained, no hold left anywhere.
func (r *threeRun) moveDone(ctx context.Context, t0 time.Time, to *lab.Node) error {
	l := r.l
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := r.mon.WaitHolder(wctx, to); err != nil {
		return err
	}
	if added := r.mon.AddedSince(to, t0); len(added) > 0 {
		r.vipMoves = append(r.vipMoves, added[0].Sub(t0))
		r.note("VIP on %s %s after the drain started", to.Name, msecs(added[0].Sub(t0)))
	}
	if err := waitWritable(ctx, r.dbs[to], 15*time.Second); err != nil {
		return err
	}
	r.expectState(l.A, "drained")
	for _, n := range l.Keepalived()[1:] {
		r.expectState(n, "up")
	}
	return nil
}

// threeDrainTo: `hacheck drain --to d` on a, under the writers. The VIP
// goes to d and never to b, although b has the higher priority; d is
// writable, b replicates from d, a is drained; b is still not the holder
// 4 s later (past a master-down interval, when a preempting b would have
// taken it).
func threeDrainTo(ctx context.Context, r *threeRun) (*lab.Node, []*lab.Node, error) {
	l := r.l
	t0 := time.Now()
	logB := lab.LogSize(l.B.KeepalivedLog)
	out, code := r.hacheck(ctx, l.A, "drain", "--to", l.D.Name, "--reason", "three-node test: to d past b")
	r.note("`hacheck drain --to d` on a: exit %d after %s\n%s", code, msecs(time.Since(t0)), out)
	if code != 0 {
		return nil, nil, fmt.Errorf("drain --to d on a exited %d", code)
	}
	if s := successorLine(out); !strings.HasPrefix(s, "successor: "+l.D.Name) {
		r.fail("drain --to d printed successor line %q, want one starting %q", s, "successor: "+l.D.Name)
	}
	// The example sets admin.socket: the front hands the drain, holds and
	// all, to a's serve.
	if st, err := (state.Store{Dir: l.A.StateDir}).Load(); err != nil || !strings.HasPrefix(st.From, "unix:") {
		r.fail("the drain did not run in a's serve (state from %q, %v): the front ran it itself", st.From, err)
	} else {
		r.note("the drain ran in a's serve (the front handed it over on admin.socket)")
	}
	if err := r.moveDone(ctx, t0, l.D); err != nil {
		return nil, nil, err
	}
	if err := r.replicatesFrom(ctx, l.B, l.D); err != nil {
		r.fail("%v", err)
	} else {
		r.note("b replicates from d (SHOW SLAVE STATUS: source %s, IO and SQL threads running)", l.D.Addr.Addr())
	}
	if err := sleepCtx(ctx, 4*time.Second); err != nil {
		return nil, nil, err
	}
	r.vipOn(l.D)
	if at := r.vipEverOn(l.B); len(at) > 0 {
		r.fail("the VIP appeared on b at %v (the watch on b covers the whole run)", at)
	} else {
		r.note("the VIP watch on b saw no VIP on b for the whole run")
	}
	if b, err := os.ReadFile(l.B.KeepalivedLog); err == nil && int64(len(b)) > logB {
		held := strings.Contains(string(b[logB:]), "Entering FAULT STATE")
		r.note("b's keepalived entered FAULT during the move (its hold): %v", held)
	}
	return l.D, []*lab.Node{l.B}, nil
}

// lagD makes d lag behind a while the writers go on: its SQL thread keeps
// running but applies each transaction only after MASTER_DELAY, so it is
// a running GTID replica that lacks a's latest transactions. undo puts
// the delay back to 0.
func (r *threeRun) lagD(ctx context.Context, delay int) (undo func() error, err error) {
	d := r.dbs[r.l.D]
	set := func(delay int) error {
		for _, q := range []string{"STOP SLAVE", fmt.Sprintf("CHANGE MASTER TO MASTER_DELAY = %d", delay), "START SLAVE"} {
			if _, err := d.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s on d: %w", q, err)
			}
		}
		return nil
	}
	if err := set(delay); err != nil {
		return nil, err
	}
	if err := r.replicatesFrom(ctx, r.l.D, r.l.A); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
		return nil, err
	}
	var aPos, dPos string
	if err := r.dbs[r.l.A].db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&aPos); err != nil {
		return nil, err
	}
	if err := d.db.QueryRowContext(ctx, "SELECT @@gtid_slave_pos").Scan(&dPos); err != nil {
		return nil, err
	}
	if aPos == dPos {
		return nil, fmt.Errorf("d does not lag: a at %s, d at %s (is the writer writing?)", aPos, dPos)
	}
	r.note("d lags: MASTER_DELAY = %d, both threads running; a at %s, d applied %s", delay, aPos, dPos)
	return func() error { return set(0) }, nil
}

// refusedUnchanged runs `hacheck drain args...` on a, which must be
// refused (exit 1) and change nothing: the VIP stays on a alone (no VIP
// event anywhere), a stays writable, every node stays up without a hold.
func (r *threeRun) refusedUnchanged(ctx context.Context, what string, args ...string) bool {
	l := r.l
	t0 := time.Now()
	out, code := r.hacheck(ctx, l.A, append([]string{"drain"}, args...)...)
	r.note("`hacheck drain %s` on a %s: exit %d after %s\n%s", strings.Join(args, " "), what, code, msecs(time.Since(t0)), out)
	if code != 1 {
		r.fail("drain %s %s exited %d, want 1 (refused, nothing changed)", strings.Join(args, " "), what, code)
	}
	r.vipOn(l.A)
	for _, n := range l.Keepalived() {
		if at := r.mon.AddedSince(n, t0); len(at) > 0 {
			r.fail("the VIP appeared on %s after the refused drain", n.Name)
		}
		r.expectState(n, "up")
	}
	if err := waitWritable(ctx, r.dbs[l.A], 5*time.Second); err != nil {
		r.fail("after the refused drain: %v", err)
	}
	return code == 1
}

// autoToB runs `hacheck drain` without --to on a: it must pick b, print
// a `successor: b (...)` line with the reason, and complete the move. It
// returns the successor line.
func (r *threeRun) autoToB(ctx context.Context) (string, error) {
	l := r.l
	t0 := time.Now()
	out, code := r.hacheck(ctx, l.A, "drain", "--reason", "three-node test: automatic choice")
	r.note("`hacheck drain` on a: exit %d after %s\n%s", code, msecs(time.Since(t0)), out)
	if code != 0 {
		return "", fmt.Errorf("drain on a exited %d", code)
	}
	s := successorLine(out)
	if !strings.HasPrefix(s, "successor: "+l.B.Name+" ") {
		r.fail("drain printed successor line %q, want one starting %q and a reason", s, "successor: "+l.B.Name+" ")
	}
	return s, r.moveDone(ctx, t0, l.B)
}

// threeAutoChoice: d lags (MASTER_DELAY, threads running, while the
// writers go on). `drain --to d` is refused (exit 1) with nothing
// changed. Then `drain` without --to picks b, prints why, and the move
// completes; the VIP was never on d; d, its delay taken away, follows b.
func threeAutoChoice(ctx context.Context, r *threeRun) (*lab.Node, []*lab.Node, error) {
	l := r.l
	undo, err := r.lagD(ctx, 60)
	if err != nil {
		return nil, nil, err
	}
	if !r.refusedUnchanged(ctx, "while d lags", "--to", l.D.Name, "--reason", "three-node test: to a lagging d") {
		return nil, nil, errors.New("the refusal did not happen; not trying the automatic choice")
	}
	line, err := r.autoToB(ctx)
	if err != nil {
		return nil, nil, err
	}
	// The reason must be d's lag, not only b's priority (which would pick
	// b just the same): it names d and what it lacks.
	why := strings.ToLower(line)
	if !strings.Contains(why, " "+l.D.Name+" ") || !strings.Contains(why, "lacks") && !strings.Contains(why, "lag") && !strings.Contains(why, "behind") {
		r.fail("drain's reason %q does not say that d lags (want d named with \"lacks\", \"lag\" or \"behind\")", line)
	}
	if at := r.vipEverOn(l.D); len(at) > 0 {
		r.fail("the VIP appeared on d (lagging) at %v", at)
	}
	if err := undo(); err != nil {
		return nil, nil, err
	}
	if err := r.replicatesFrom(ctx, l.D, l.B); err != nil {
		r.fail("after the move: %v", err)
		return l.B, nil, nil
	}
	r.note("d, its delay back to 0, replicates from b")
	return l.B, []*lab.Node{l.D}, nil
}

// threePreempt: keepalived without nopreempt. `drain --to d` must be
// refused with nothing changed (b, the higher priority, would take the
// VIP back from d once released); `drain` picks b, and b still holds the
// VIP 4 s later.
func threePreempt(ctx context.Context, r *threeRun) (*lab.Node, []*lab.Node, error) {
	l := r.l
	if !r.refusedUnchanged(ctx, "without nopreempt", "--to", l.D.Name, "--reason", "three-node test: to d, preempt on") {
		return nil, nil, errors.New("the refusal did not happen; not trying the automatic choice")
	}
	if _, err := r.autoToB(ctx); err != nil {
		return nil, nil, err
	}
	if err := sleepCtx(ctx, 4*time.Second); err != nil {
		return nil, nil, err
	}
	r.vipOn(l.B)
	if err := r.replicatesFrom(ctx, l.D, l.B); err != nil {
		r.fail("after the move: %v", err)
		return l.B, nil, nil
	}
	return l.B, []*lab.Node{l.D}, nil
}
