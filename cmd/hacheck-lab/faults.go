package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
)

// The fault scenarios: unplanned failures of the MariaDB lab (keepalived
// stopped, a node killed, a partition, a frozen server) under a writer
// through the VIP, with the invariants sampled throughout:
//
//   - never both servers writable;
//   - a writable server holds the VIP (1 s grace after a VIP change);
//   - no acknowledged write lost: every acknowledged id is on the final
//     primary (the VIP holder at the end), once the other server has caught
//     up from it or is declared stale;
//   - within resumeWithin after the fault ends, writes through the VIP
//     succeed again, or (where a person may be needed) the VIP holder's
//     `hacheck status` says why not and names the safe command: a line
//     containing "run `hacheck ...`".
//
// Each scenario adds its own assertions (see faultScenarios).
const resumeWithin = 15 * time.Second

// safeCommand is how `hacheck status` names the command that is safe now.
var safeCommand = regexp.MustCompile("run `hacheck [^`]+`")

// faultScenario is one fault and its assertions.
type faultScenario struct {
	name, title string
	// template returns the keepalived.conf template ("" for
	// examples/keepalived.conf).
	template func(dir string) (string, error)
	// sideWriter also runs a writer in A's namespace, to see writes
	// accepted on A's side of a partition.
	sideWriter bool
	run        func(ctx context.Context, r *faultRun) error
}

// faultRun is one scenario running on its own lab.
type faultRun struct {
	sc    faultScenario
	l     *lab.Lab
	dbs   map[*lab.Node]*dbNode
	mon   *lab.VIPMonitor
	ka    map[*lab.Node]*lab.Proc
	w     *writer // the client, through the VIP
	side  *writer // in A's namespace, through the VIP (sideWriter only)
	smp   *sampler
	log   io.Writer
	start time.Time

	// Set by the scenario: from when "writes resume" is timed.
	resumeFrom time.Time
	resumeWhat string // what resumeFrom is ("the heal", ...)

	mu         sync.Mutex
	violations []string
	notes      []string
	resume     time.Duration // -1: did not resume within resumeWithin
}

// faultResult is what a scenario measured.
type faultResult struct {
	name, title string
	gap         time.Duration // longest time without an acknowledged write, from the fault on
	resume      time.Duration // resumeFrom -> first acknowledged write after it; -1 none
	resumeWhat  string
	acked, lost int
	violations  []string
	notes       []string
}

func cmdFaults(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("faults", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	var known []string
	for _, s := range faultScenarios() {
		known = append(known, s.name)
	}
	list, runs := registerScenarioFlags(fs, known)
	wc := registerWriterFlags(fs)
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
	tmp, err := os.MkdirTemp("", "hacheck-faults-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var results []faultResult
	var failures []error
	for _, sc := range faultScenarios() {
		if !want[sc.name] {
			continue
		}
		for i := range *runs {
			fmt.Fprintf(stderr, "== %s (run %d/%d): %s\n", sc.name, i+1, *runs, sc.title)
			res, err := runFault(ctx, c, sc, *wc, tmp, stderr)
			if err != nil {
				res.violations = append(res.violations, "scenario did not complete: "+err.Error())
			}
			printFaultResult(stdout, res)
			results = append(results, res)
			if len(res.violations) > 0 {
				failures = append(failures, fmt.Errorf("%s: %d violations", sc.name, len(res.violations)))
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	printFaultTable(stdout, results, *wc)
	return errors.Join(failures...)
}

// runFault builds a lab, brings the MariaDB pair up with A the primary,
// starts the writer(s) and the sampler, runs the scenario, then checks
// that no acknowledged write is missing on the final primary.
func runFault(ctx context.Context, c commonFlags, sc faultScenario, wc writerConfig, tmp string, stderr io.Writer) (res faultResult, err error) {
	res = faultResult{name: sc.name, title: sc.title, resume: -1}
	tpl := ""
	if sc.template != nil {
		if tpl, err = sc.template(tmp); err != nil {
			return res, err
		}
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, KeepalivedExample: tpl, Logger: c.logger(stderr)})
	cancel()
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	mon, err := l.MonitorVIP()
	if err != nil {
		return res, err
	}
	defer mon.Close()
	r := &faultRun{sc: sc, l: l, mon: mon, ka: map[*lab.Node]*lab.Proc{}, log: stderr, resume: -1}
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	r.dbs, err = upMySQLLab(uctx, l, false)
	if err == nil {
		err = r.startKeepalivedPair(uctx)
	}
	cancel()
	defer func() {
		for _, d := range r.dbs {
			d.db.Close()
		}
	}()
	if err != nil {
		return res, err
	}
	r.start = time.Now()
	if r.smp, err = startSampler(l, mon, r.start); err != nil {
		return res, err
	}
	if r.w, err = startWriter(l, wc); err != nil {
		r.smp.Stop()
		return res, err
	}
	if sc.sideWriter {
		if r.side, err = startWriterIn(l, l.A, wc, 1_000_000_000); err != nil {
			r.w.Stop()
			r.smp.Stop()
			return res, err
		}
	}
	r.logf("lab %s up, a is the primary; writer through the VIP running", l.ID)
	faultAt := time.Now()
	runErr := sleepCtx(ctx, 2*time.Second)
	if runErr == nil {
		faultAt = time.Now()
		runErr = sc.run(ctx, r)
	}
	// Keep sampling a little after the scenario, then stop everything.
	if runErr == nil {
		runErr = sleepCtx(ctx, time.Second)
	}
	end := time.Now()
	acks := r.w.Stop()
	var sideAcks []ack
	if r.side != nil {
		sideAcks = r.side.Stop()
	}
	r.smp.Stop()
	res.violations = append(res.violations, r.smp.violations()...)
	r.note("%s", r.smp.summary())
	if fails, last := r.w.stats(); fails > 0 {
		r.note("writer: %d acknowledged, %d failed (last error: %s)", len(acks), fails, last)
	}
	res.gap = longestGap(acks, faultAt, end)
	res.resume, res.resumeWhat = r.resume, r.resumeWhat
	if runErr != nil {
		r.mu.Lock()
		res.violations, res.notes = append(res.violations, r.violations...), append(res.notes, r.notes...)
		r.mu.Unlock()
		return res, runErr
	}
	all := append(slices.Clone(acks), sideAcks...)
	res.acked = len(all)
	lost, err := r.verifyFinal(ctx, all)
	res.lost = lost
	r.mu.Lock()
	res.violations, res.notes = append(res.violations, r.violations...), append(res.notes, r.notes...)
	r.mu.Unlock()
	if err != nil {
		return res, err
	}
	return res, mon.Err()
}

// startKeepalivedPair starts keepalived on A, then on B, as lab.StartPair
// does, but keeps both processes so a scenario can stop them; then waits
// until notify has made A's server writable.
func (r *faultRun) startKeepalivedPair(ctx context.Context) error {
	l := r.l
	p, err := l.StartKeepalived(ctx, l.A)
	if err != nil {
		return err
	}
	r.ka[l.A] = p
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := r.mon.WaitHolder(wctx, l.A); err != nil {
		return fmt.Errorf("%w; keepalived log of a ends:\n%s", err, lab.Tail(l.A.KeepalivedLog, 20))
	}
	if p, err = l.StartKeepalived(ctx, l.B); err != nil {
		return err
	}
	r.ka[l.B] = p
	if _, err := lab.WaitForLog(wctx, l.B.KeepalivedLog, 0, "Entering BACKUP STATE"); err != nil {
		return err
	}
	if err := sleepCtx(ctx, 1500*time.Millisecond); err != nil {
		return err
	}
	if err := waitWritable(ctx, r.dbs[l.A], 15*time.Second); err != nil {
		return fmt.Errorf("%w; notify log of a:\n%s", err, lab.Tail(l.A.KeepalivedLog, 15))
	}
	return nil
}

// startWriterIn is the insert writer of writer.go, run from n's namespace
// through the VIP, with ids after first.
func startWriterIn(l *lab.Lab, n *lab.Node, wc writerConfig, first int64) (*writer, error) {
	name := "lab-writer-" + n.Name + "-" + l.ID
	if _, loaded := registerOnce.LoadOrStore(name, name); !loaded {
		dial := l.DialContext(n)
		mysql.RegisterDialContext(name, func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})
	}
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr, c.DBName = appUser, appPass, name, fmt.Sprintf("%s:%d", lab.VIP.Addr(), mysqlPort), "demo"
	c.Timeout = wc.connectTimeout
	c.ReadTimeout = time.Second
	c.WriteTimeout = time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, fmt.Errorf("writer on %s: %w", n.Name, err)
	}
	w := &writer{db: db, first: first, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop(wc.interval)
	return w, nil
}

// logf prints progress with the time since the scenario started.
func (r *faultRun) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "  %+7.2f s  %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// fail records a violated assertion (and logs it).
func (r *faultRun) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.logf("VIOLATION: %s", msg)
	r.mu.Lock()
	r.violations = append(r.violations, msg)
	r.mu.Unlock()
}

// note records a measurement or an observation for the report.
func (r *faultRun) note(format string, args ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// rel is t relative to the scenario start.
func (r *faultRun) rel(t time.Time) string { return fmt.Sprintf("%+.2f s", t.Sub(r.start).Seconds()) }

// holder is the only VIP holder now, or nil.
func (r *faultRun) holder() *lab.Node {
	if hs := r.mon.Holders(); len(hs) == 1 {
		return hs[0]
	}
	return nil
}

// waitHolder waits up to d for n alone to hold the VIP.
func (r *faultRun) waitHolder(ctx context.Context, n *lab.Node, d time.Duration) (time.Time, error) {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	at, err := r.mon.WaitHolder(wctx, n)
	if err == nil {
		r.logf("VIP on %s alone (since %s)", n.Name, r.rel(at))
	}
	return at, err
}

// stopKeepalived stops keepalived on n with SIGTERM (SIGKILL after 5 s).
func (r *faultRun) stopKeepalived(n *lab.Node) error {
	p := r.ka[n]
	if p == nil {
		return fmt.Errorf("keepalived on %s was not started", n.Name)
	}
	r.logf("SIGTERM to keepalived on %s", n.Name)
	if err := p.Stop(5 * time.Second); err != nil {
		return err
	}
	r.ka[n] = nil
	return nil
}

// startKeepalived starts keepalived on n again and waits for its startup.
func (r *faultRun) startKeepalived(ctx context.Context, n *lab.Node) error {
	off := lab.LogSize(n.KeepalivedLog)
	p, err := r.l.StartKeepalived(ctx, n)
	if err != nil {
		return err
	}
	r.ka[n] = p
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := lab.WaitForLog(wctx, n.KeepalivedLog, off, "Startup complete"); err != nil {
		return err
	}
	r.logf("keepalived on %s started again", n.Name)
	return nil
}

// status runs `hacheck status` on n and returns its output (also when it
// exits 1, as it does when not healthy).
func (r *faultRun) status(ctx context.Context, n *lab.Node) string {
	out, err := hacheckOn(ctx, r.l, n, "status")
	if out == "" && err != nil {
		return "(hacheck status failed: " + err.Error() + ")"
	}
	return out
}

// awaitResume waits until the client's writer has a write acknowledged
// after r.resumeFrom, at most resumeWithin. When none comes and strict is
// false, the VIP holder's `hacheck status` must say why and name the safe
// command ("run `hacheck ...`"); when strict (the scenario demands writes
// resume without a person), not resuming is a violation in itself.
func (r *faultRun) awaitResume(ctx context.Context, strict bool) error {
	return r.awaitResumeBy(ctx, strict, r.resumeFrom.Add(resumeWithin))
}

// awaitResumeBy is awaitResume with its own deadline (resumeWithin after
// the end of a fault that ended before r.resumeFrom).
func (r *faultRun) awaitResumeBy(ctx context.Context, strict bool, deadline time.Time) error {
	from := r.resumeFrom
	r.resume = -1 // the report shows the last wait's outcome
	for {
		if a, ok := firstAfter(r.w.snapshot(), from); ok {
			r.resume = a.at.Sub(from)
			r.logf("writes through the VIP resumed %s after %s", secs(r.resume), r.resumeWhat)
			r.note("writes resumed %s after %s", secs(r.resume), r.resumeWhat)
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	fails, last := r.w.stats()
	h := r.holder()
	if h == nil {
		// Nobody to route writes to (e.g. the only eligible node's
		// keepalived is stopped): then some node's status must say why
		// and name the safe command.
		var named []string
		for _, n := range r.l.Pair() {
			out := r.status(ctx, n)
			r.logf("hacheck status on %s (no single node holds the VIP):\n%s", n.Name, indent(out))
			if line := safeCommand.FindString(out); line != "" {
				named = append(named, n.Name+": "+line)
			}
		}
		switch {
		case strict:
			r.fail("no write acknowledged by %s after %s (%d failed, last: %s), no single node holds the VIP (holders %v): writes must resume without a person",
				r.rel(deadline), r.resumeWhat, fails, last, names(r.mon.Holders()))
		case len(named) == 0:
			r.fail("no write acknowledged by %s after %s (%d failed, last: %s), no single node holds the VIP (holders %v), and no node's status names the safe command (no line with \"run `hacheck ...`\")",
				r.rel(deadline), r.resumeWhat, fails, last, names(r.mon.Holders()))
		default:
			r.note("writes still blocked after %s and no node holds the VIP; status names %s", r.resumeWhat, strings.Join(named, "; "))
		}
		return nil
	}
	r.note("%s", r.vipNeighbour(ctx))
	r.logf("keepalived log of %s, the VIP holder, ends:\n%s", h.Name, indent(lab.Tail(h.KeepalivedLog, 12)))
	out := r.status(ctx, h)
	r.logf("hacheck status on %s, the VIP holder:\n%s", h.Name, indent(out))
	line := safeCommand.FindString(out)
	switch {
	case strict:
		r.fail("no write acknowledged by %s, %v after %s (last error: %s): writes must resume without a person; status on %s: %s",
			r.rel(deadline), deadline.Sub(r.resumeFrom).Round(time.Millisecond), r.resumeWhat, last, h.Name, firstLine(out, "verdict"))
	case line == "":
		r.fail("no write acknowledged by %s, %v after %s (last error: %s), and status on %s, the VIP holder, names no safe command (no line with \"run `hacheck ...`\"): %s",
			r.rel(deadline), deadline.Sub(r.resumeFrom).Round(time.Millisecond), r.resumeWhat, last, h.Name, firstLine(out, "verdict"))
	default:
		r.note("writes still blocked %v after %s; status on %s says why and names %s", deadline.Sub(r.resumeFrom).Round(time.Millisecond), r.resumeWhat, h.Name, line)
	}
	return nil
}

// vipNeighbour says which node the client's ARP entry for the VIP points
// to: after a heal, a master that never changed state sends no gratuitous
// ARP, and the client may keep sending to the node that lost the VIP.
func (r *faultRun) vipNeighbour(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := r.l.Exec(ctx, r.l.Client, "ip", "neigh", "show", lab.VIP.Addr().String())
	if err != nil {
		return "client's neighbour entry for the VIP: " + err.Error()
	}
	entry := strings.TrimSpace(string(out))
	who := "neither node"
	for _, n := range r.l.Pair() {
		m, err := r.l.Exec(ctx, n, "cat", "/sys/class/net/eth0/address")
		if err == nil && strings.Contains(entry, strings.TrimSpace(string(m))) {
			who = n.Name
		}
	}
	return fmt.Sprintf("client's neighbour entry for the VIP: %q (%s's MAC)", entry, who)
}

// verifyFinal compares the acknowledged ids with the rows on the final
// primary (the VIP holder, else the writable server, else A), after the
// other server has caught up from it or is declared stale, and returns how
// many are missing.
func (r *faultRun) verifyFinal(ctx context.Context, acks []ack) (int, error) {
	l := r.l
	final := r.holder()
	if final == nil {
		for _, n := range l.Pair() {
			if ro, err := r.dbs[n].readOnly(ctx); err == nil && !ro {
				final = n
			}
		}
	}
	if final == nil {
		final = l.A
	}
	otherN := other(l, final)
	r.note("final primary: %s (%s)", final.Name, describeServer(ctx, r.dbs[final]))
	r.note("other server %s: %s", otherN.Name, catchUp(ctx, r.dbs[otherN], r.dbs[final]))
	lost, rows, err := verifyAcks(ctx, r.dbs[final], acks)
	if err != nil {
		return 0, err
	}
	if len(lost) > 0 {
		r.fail("%d of %d acknowledged writes are missing on the final primary %s (%d rows there); first missing ids %v",
			len(lost), len(acks), final.Name, rows, lost[:min(5, len(lost))])
		if onOther, _, err := verifyAcks(ctx, r.dbs[otherN], acks); err == nil {
			r.note("of those, %d are on %s", len(lost)-countIn(lost, onOther), otherN.Name)
		}
	}
	return len(lost), nil
}

// describeServer is read_only and the GTID position of d.
func describeServer(ctx context.Context, d *dbNode) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var ro bool
	var pos string
	if err := d.db.QueryRowContext(ctx, "SELECT @@read_only, @@gtid_binlog_pos").Scan(&ro, &pos); err != nil {
		return "unreachable: " + err.Error()
	}
	return fmt.Sprintf("read_only=%v, gtid_binlog_pos %s", ro, pos)
}

// catchUp waits (at most 5 s) until d, when it replicates from primary
// with both threads running, has applied primary's position; otherwise it
// is declared stale, and the text says why.
func catchUp(ctx context.Context, d, primary *dbNode) string {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	st, err := mariadbd.SlaveStatus(ctx, d.db)
	if err != nil {
		return "stale (unreachable: " + err.Error() + ")"
	}
	src := primary.node.Addr.Addr().String()
	if st["Master_Host"] != src || st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" {
		return fmt.Sprintf("stale: does not replicate from %s (source %q, IO %q, SQL %q, %s)", primary.node.Name,
			st["Master_Host"], st["Slave_IO_Running"], st["Slave_SQL_Running"], describeServer(ctx, d))
	}
	var pos string
	if err := primary.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return "stale (position of the primary unknown: " + err.Error() + ")"
	}
	var got sql.NullInt64
	if err := d.db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 5)", pos).Scan(&got); err != nil || !got.Valid || got.Int64 != 0 {
		return fmt.Sprintf("stale: did not apply %s within 5 s (%v)", pos, err)
	}
	return "caught up with " + pos
}

func countIn(ids, in []int64) int {
	n := 0
	for _, id := range ids {
		if slices.Contains(in, id) {
			n++
		}
	}
	return n
}

// longestGap is the longest time in [from, to] with no acknowledged write.
func longestGap(acks []ack, from, to time.Time) time.Duration {
	var gap time.Duration
	last := from
	for _, a := range acks {
		if a.at.Before(from) {
			continue
		}
		if a.at.After(to) {
			break
		}
		gap = max(gap, a.at.Sub(last))
		last = a.at
	}
	return max(gap, to.Sub(last))
}

// nsPIDs returns the processes running in n's namespace with their
// command names (/proc/PID/comm).
func nsPIDs(ctx context.Context, n *lab.Node) (map[int]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", n.NS).Output()
	if err != nil {
		return nil, fmt.Errorf("processes in %s: %w", n.NS, err)
	}
	procs := map[int]string{}
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + f + "/comm")
		if err != nil {
			continue // gone already
		}
		procs[pid] = strings.TrimSpace(string(comm))
	}
	return procs, nil
}

// signalComm sends sig to each process called comm in n's namespace and
// returns their pids.
func signalComm(ctx context.Context, n *lab.Node, comm string, sig syscall.Signal) ([]int, error) {
	procs, err := nsPIDs(ctx, n)
	if err != nil {
		return nil, err
	}
	var pids []int
	for pid, c := range procs {
		if c == comm {
			if err := syscall.Kill(pid, sig); err != nil {
				return pids, fmt.Errorf("signal %v to %s (pid %d) on %s: %w", sig, comm, pid, n.Name, err)
			}
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no %s running on %s", comm, n.Name)
	}
	return pids, nil
}

func indent(s string) string {
	return "      | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      | ")
}

// firstLine returns the first line of s that starts with prefix (or the
// first line of s).
func firstLine(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}

func printFaultResult(w io.Writer, r faultResult) {
	fmt.Fprintf(w, "\n## %s: %s\n", r.name, r.title)
	resume := "did not resume within " + resumeWithin.String()
	if r.resume >= 0 {
		resume = secs(r.resume)
	}
	if r.resumeWhat != "" {
		resume += " after " + r.resumeWhat
	}
	fmt.Fprintf(w, "write gap %s; time to resume %s; acknowledged %d, lost %d; %d invariant violations\n",
		secs(r.gap), resume, r.acked, r.lost, len(r.violations))
	for _, v := range r.violations {
		fmt.Fprintf(w, "  VIOLATION %s\n", v)
	}
	for _, n := range r.notes {
		fmt.Fprintf(w, "  - %s\n", n)
	}
}

func printFaultTable(w io.Writer, results []faultResult, wc writerConfig) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| scenario | write gap | time to resume | acknowledged | lost | violations |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range results {
		resume := "none within " + resumeWithin.String()
		if r.resume >= 0 {
			resume = secs(r.resume)
		}
		if r.resumeWhat != "" {
			resume += " (after " + r.resumeWhat + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d |\n", r.name, secs(r.gap), resume, r.acked, r.lost, len(r.violations))
	}
	fmt.Fprintf(w, "Writer: one INSERT every %v through the VIP from the client namespace, connect timeout %v; write gap = longest time without an acknowledged write from the fault on.\n", wc.interval, wc.connectTimeout)
}
