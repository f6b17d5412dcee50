package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// Durations of the faults, as the scenarios are specified.
const (
	keepalivedDown = 3 * time.Second  // scenario 1, 2: keepalived on a stopped for this long
	partitionFor   = 8 * time.Second  // scenario 4
	freezeFor      = 10 * time.Second // scenario 5
	// checkDeadline is check_timeout of the lab's hacheck.yaml; the slack
	// covers starting the process through `ip netns exec`.
	checkDeadline = 2 * time.Second
	checkSlack    = 250 * time.Millisecond
)

func faultScenarios() []faultScenario {
	return []faultScenario{
		{name: "keepalived-restart", title: "keepalived on the primary a stopped (SIGTERM) and started 3 s later; then keepalived on the new primary b stopped while its database keeps answering",
			run: func(ctx context.Context, r *faultRun) error { return keepalivedRestart(ctx, r) }},
		{name: "keepalived-restart-preempt", title: "the same with a keepalived.conf without nopreempt",
			template: noNopreempt,
			run:      func(ctx context.Context, r *faultRun) error { return keepalivedRestart(ctx, r) }},
		{name: "node-killed", title: "node a killed hard (keepalived, serve, mysqld: SIGKILL): b refuses, /primary 503, status names `promote --force`; then promote --force on b",
			run: nodeKilled},
		{name: "partition-link", title: "a cut off for 8 s: the link of its veth down (at the bridge)", sideWriter: true,
			run: func(ctx context.Context, r *faultRun) error { return partition(ctx, r, false) }},
		{name: "partition-bridge", title: "a cut off for 8 s: its veth out of the bridge, link up", sideWriter: true,
			run: func(ctx context.Context, r *faultRun) error { return partition(ctx, r, true) }},
		{name: "mysqld-frozen", title: "mysqld on a frozen with SIGSTOP for 10 s, then SIGCONT",
			run: mysqldFrozen},
	}
}

// noNopreempt is examples/keepalived.conf without its nopreempt line.
func noNopreempt(dir string) (string, error) {
	p, err := lab.RepoFile("examples/keepalived.conf")
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var out []string
	removed := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "nopreempt" {
			removed++
			continue
		}
		out = append(out, line)
	}
	if removed != 1 {
		return "", fmt.Errorf("make a preempting template: want exactly one nopreempt line in %s, found %d", p, removed)
	}
	return writeTemplate(dir, "preempt.conf", strings.Join(out, "\n"))
}

// logServers logs who holds the VIP and each server's state.
func (r *faultRun) logServers(ctx context.Context, when string) {
	var parts []string
	for _, n := range r.l.Pair() {
		parts = append(parts, n.Name+": "+describeServer(ctx, r.dbs[n]))
	}
	r.logf("%s: VIP on %v; %s", when, names(r.mon.Holders()), strings.Join(parts, "; "))
}

// keepalivedRestart is scenarios 1 and 2. Phase 1: keepalived on the
// primary a stops (SIGTERM), b takes the VIP and should be promoted (a's
// server answers: a planned-like move); a's keepalived is back 3 s later.
// Phase 2: keepalived on b stops while b's server keeps answering, so the
// VIP goes back to a (without nopreempt it may have gone back already).
// a must then not be writable without b's writes.
func keepalivedRestart(ctx context.Context, r *faultRun) error {
	l := r.l
	stopAt := time.Now()
	if err := r.stopKeepalived(l.A); err != nil {
		return err
	}
	r.resumeFrom, r.resumeWhat = stopAt, "keepalived on a stopped"
	if at, err := r.waitHolder(ctx, l.B, 10*time.Second); err != nil {
		r.fail("the VIP did not move to b after keepalived on a stopped: %v", err)
	} else {
		r.resumeFrom, r.resumeWhat = at, "the VIP moved to b"
	}
	if err := sleepCtx(ctx, time.Until(stopAt.Add(keepalivedDown))); err != nil {
		return err
	}
	if t, ok := r.smp.writableAfter(l.B, stopAt); ok {
		r.note("b writable from %s (promoted after a's keepalived stopped)", r.rel(t))
	} else {
		r.note("b not writable within %v of a's keepalived stopping", keepalivedDown)
	}
	if err := r.startKeepalived(ctx, l.A); err != nil {
		return err
	}
	restartAt := time.Now()
	// The first fault ends here: writes must flow again through b (a's
	// server answered the whole time, so b's promotion is safe).
	if err := r.awaitResumeBy(ctx, false, restartAt.Add(resumeWithin)); err != nil {
		return err
	}
	if err := sleepCtx(ctx, 6*time.Second); err != nil {
		return err
	}
	r.logServers(ctx, "6 s after a's keepalived is back")
	if back := r.mon.AddedSince(l.A, restartAt); len(back) > 0 {
		r.note("the VIP came back to a %s after its keepalived started again", secs(back[0].Sub(restartAt)))
	}
	stop2 := time.Now()
	if err := r.stopKeepalived(l.B); err != nil {
		return err
	}
	r.resumeFrom, r.resumeWhat = time.Now(), "keepalived on b stopped"
	if at, err := r.waitHolder(ctx, l.A, 10*time.Second); err != nil {
		r.fail("the VIP did not go back to a after keepalived on b stopped: %v", err)
	} else if at.After(stop2) {
		// Writes b acknowledges until its fence are not a resumption.
		r.resumeFrom, r.resumeWhat = at, "the VIP moved back to a"
	}
	r.exPrimaryWritable(ctx, stopAt)
	if err := r.awaitResume(ctx, false); err != nil {
		return err
	}
	r.logServers(ctx, "at the end")
	return nil
}

// exPrimaryWritable waits (at most resumeWithin) for a, the ex-primary,
// to turn writable again after since and then compares the GTID
// positions at once: a must not be writable while b has transactions it
// lacks (a higher sequence number in any replication domain).
func (r *faultRun) exPrimaryWritable(ctx context.Context, since time.Time) {
	l := r.l
	deadline := time.Now().Add(resumeWithin)
	for {
		if t, ok := r.smp.writableAfter(l.A, since); ok {
			// b first: once a is writable, b may replicate a's new writes,
			// and read after a they would look like transactions a lacks.
			b, berr := gtidPos(ctx, r.dbs[l.B])
			a, aerr := gtidPos(ctx, r.dbs[l.A])
			if aerr != nil || berr != nil {
				r.note("a writable again from %s; positions unreadable (%v, %v)", r.rel(t), aerr, berr)
				return
			}
			if missing := gtidMissing(a, b); missing != "" {
				r.fail("the ex-primary a became writable at %s without b's newer writes: a at %s, b at %s (%s)", r.rel(t), a, b, missing)
			} else {
				r.note("a writable again from %s with b's writes (a at %s, b at %s)", r.rel(t), a, b)
			}
			return
		}
		if time.Now().After(deadline) {
			r.note("a did not turn writable again within %v", resumeWithin)
			return
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return
		}
	}
}

func gtidPos(ctx context.Context, d *dbNode) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var pos string
	err := d.db.QueryRowContext(ctx, "SELECT @@gtid_binlog_pos").Scan(&pos)
	return pos, err
}

// gtidMissing says which replication domains of MariaDB position b are
// ahead of position a ("" when none): a lacks those transactions.
func gtidMissing(a, b string) string {
	seqs := func(pos string) map[string]uint64 {
		m := map[string]uint64{}
		for _, g := range strings.Split(pos, ",") {
			f := strings.Split(strings.TrimSpace(g), "-")
			if len(f) != 3 {
				continue
			}
			if n, err := strconv.ParseUint(f[2], 10, 64); err == nil {
				m[f[0]] = n
			}
		}
		return m
	}
	as := seqs(a)
	var out []string
	for dom, bn := range seqs(b) {
		if an := as[dom]; bn > an {
			out = append(out, fmt.Sprintf("domain %s: %d transactions behind", dom, bn-an))
		}
	}
	return strings.Join(out, ", ")
}

// nodeKilled is scenario 3.
func nodeKilled(ctx context.Context, r *faultRun) error {
	l := r.l
	killAt := time.Now()
	procs, err := nsPIDs(ctx, l.A)
	if err != nil {
		return err
	}
	var killed []string
	for pid, comm := range procs {
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, fmt.Sprintf("%s[%d]", comm, pid))
		}
	}
	r.ka[l.A] = nil
	r.logf("SIGKILL to everything on a: %s", strings.Join(killed, " "))
	// A dead host's kernel no longer answers for the VIP; a's namespace
	// outlives its processes and would keep it (keepalived died without
	// removing it), so take it away as the host's death would.
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = l.Exec(dctx, l.A, "ip", "addr", "del", lab.VIP.String(), "dev", "eth0")
	cancel()
	if err != nil {
		return err
	}
	if _, err := r.waitHolder(ctx, l.B, 10*time.Second); err != nil {
		r.fail("the VIP did not move to b after a was killed: %v", err)
	}
	// b's notify runs on MASTER; give it time to decide.
	if err := sleepCtx(ctx, 3*time.Second); err != nil {
		return err
	}
	r.logServers(ctx, "3 s after b took the VIP")
	if t, ok := r.smp.writableAfter(l.B, killAt); ok {
		r.fail("b became writable at %s by itself, though a's server could not be asked (promote.unplanned: refuse)", r.rel(t))
	}
	c := l.HTTPClient(l.Client, time.Second)
	for _, n := range l.Pair() {
		code, body, err := get(ctx, c, fmt.Sprintf("http://%s:8530/primary", n.Addr.Addr()))
		switch {
		case n == l.A && err != nil:
			r.note("GET /primary on a: no answer (a is dead): %v", err)
		case err != nil:
			r.fail("GET /primary on %s: %v (want 503)", n.Name, err)
		case code != http.StatusServiceUnavailable:
			r.fail("GET /primary on %s answered %d %q, want 503: its server is not writable", n.Name, code, strings.TrimSpace(body))
		default:
			r.note("GET /primary on %s: 503 %q", n.Name, strings.TrimSpace(body))
		}
	}
	out := r.status(ctx, l.B)
	r.logf("hacheck status on b:\n%s", indent(out))
	if !regexp.MustCompile("run `hacheck promote --force[^`]*`").MatchString(out) {
		r.fail("status on b does not name `hacheck promote --force` (no line with \"run `hacheck promote --force`\"): %s", firstLine(out, "verdict"))
	}
	if !regexp.MustCompile(`(?i)\blos(e|es|t|ing)\b`).MatchString(out) {
		r.fail("status on b does not say what `promote --force` loses: %s", firstLine(out, "verdict"))
	}
	if strings.Contains(firstLine(out, "verdict"), "HEALTHY") && !strings.Contains(firstLine(out, "verdict"), "NOT HEALTHY") {
		r.fail("status on b says %q while it holds the VIP and its server is read-only", firstLine(out, "verdict"))
	}
	pout, err := hacheckOn(ctx, l, l.B, "promote", "--force")
	r.logf("hacheck promote --force on b: %v\n%s", err, indent(pout))
	if err != nil {
		r.fail("hacheck promote --force on b: %v", err)
	}
	r.resumeFrom, r.resumeWhat = time.Now(), "`hacheck promote --force` on b"
	if err := r.awaitResume(ctx, true); err != nil {
		return err
	}
	// serve reads the role every second: give /primary two of them.
	var code int
	var body string
	for end := time.Now().Add(2500 * time.Millisecond); ; {
		code, body, err = get(ctx, c, fmt.Sprintf("http://%s:8530/primary", l.B.Addr.Addr()))
		if err == nil && code == http.StatusOK || time.Now().After(end) {
			break
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	if err != nil || code != http.StatusOK {
		r.fail("GET /primary on b after promote --force: %d %q %v, want 200", code, strings.TrimSpace(body), err)
	}
	return nil
}

// partition is scenario 4: a is cut off for partitionFor, by setting its
// veth's bridge end down (a sees no carrier) or, with bridge set, by taking
// that end out of the bridge with its link up (a sees nothing wrong). A
// second writer in a's namespace shows writes accepted on a's side.
func partition(ctx context.Context, r *faultRun, bridge bool) error {
	l := r.l
	port := "veth-" + l.A.Name
	cut := []string{"link", "set", port, "down"}
	heal := []string{"link", "set", port, "up"}
	if bridge {
		cut = []string{"link", "set", port, "nomaster"}
		heal = []string{"link", "set", port, "master", "br0"}
	}
	ipBR := func(args []string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := l.Exec(ctx, l.Client, "ip", append([]string{"-n", l.BridgeNS}, args...)...)
		return err
	}
	cutAt := time.Now()
	if err := ipBR(cut); err != nil {
		return err
	}
	healed := false
	defer func() {
		if !healed {
			_ = ipBR(heal)
		}
	}()
	r.logf("a cut off: ip -n %s %s", l.BridgeNS, strings.Join(cut, " "))
	if err := sleepCtx(ctx, partitionFor/2); err != nil {
		return err
	}
	r.logServers(ctx, "mid-partition")
	if err := sleepCtx(ctx, time.Until(cutAt.Add(partitionFor))); err != nil {
		return err
	}
	healAt := time.Now()
	if err := ipBR(heal); err != nil {
		return err
	}
	healed = true
	r.logf("healed: ip -n %s %s", l.BridgeNS, strings.Join(heal, " "))
	// Which server took each write acknowledged during the partition: the
	// row says (server_id is the executing server's, replicas keep it).
	byServer := map[uint32]int{}
	took, err := rowServers(ctx, r.dbs)
	if err != nil {
		return err
	}
	for _, acks := range [][]ack{r.w.snapshot(), r.side.snapshot()} {
		for _, a := range acks {
			if a.at.After(cutAt) && !a.at.After(healAt) {
				byServer[took[a.id]]++
			}
		}
	}
	r.note("writes acknowledged during the partition, by the server that took them: a %d, b %d", byServer[1], byServer[2])
	if byServer[1] > 0 && byServer[2] > 0 {
		r.fail("writes accepted on both sides of the partition: %d by a, %d by b", byServer[1], byServer[2])
	}
	r.resumeFrom, r.resumeWhat = healAt, "the heal"
	if err := r.awaitResume(ctx, true); err != nil {
		return err
	}
	r.logServers(ctx, "after the heal")
	return nil
}

// rowServers returns, for every row of demo.writes on either server, the
// server_id of the server that executed its INSERT.
func rowServers(ctx context.Context, dbs map[*lab.Node]*dbNode) (map[int64]uint32, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out := map[int64]uint32{}
	for _, d := range dbs {
		rs, err := d.db.QueryContext(ctx, "SELECT id, server_id FROM demo.writes")
		if err != nil {
			return nil, fmt.Errorf("read writes on %s: %w", d.node.Name, err)
		}
		for rs.Next() {
			var id int64
			var sid uint32
			if err := rs.Scan(&id, &sid); err != nil {
				rs.Close()
				return nil, err
			}
			out[id] = sid
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mysqldFrozen is scenario 5.
func mysqldFrozen(ctx context.Context, r *faultRun) error {
	l := r.l
	pids, err := signalComm(ctx, l.A, "mariadbd", syscall.SIGSTOP)
	if err != nil {
		return err
	}
	stopAt := time.Now()
	resumed := false
	cont := func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		resumed = true
	}
	defer func() {
		if !resumed {
			cont()
		}
	}()
	r.logf("SIGSTOP to mariadbd on a (pid %v)", pids)
	for _, at := range []time.Duration{time.Second, 4 * time.Second, 7 * time.Second} {
		if err := sleepCtx(ctx, time.Until(stopAt.Add(at))); err != nil {
			return err
		}
		t0 := time.Now()
		out, err := hacheckOn(ctx, l, l.A, "check")
		took := time.Since(t0)
		r.logf("hacheck check on a: %s after %s: %s", exitOf(err), msecs(took), firstLine(out, ""))
		r.note("hacheck check on a, %v into the freeze: %s after %s: %s", at, exitOf(err), msecs(took), firstLine(out, ""))
		if took > checkDeadline+checkSlack {
			r.fail("hacheck check on a took %s, past its deadline (check_timeout %v, +%v to start the process)", msecs(took), checkDeadline, checkSlack)
		}
	}
	if err := sleepCtx(ctx, time.Until(stopAt.Add(freezeFor))); err != nil {
		return err
	}
	r.logServers(ctx, "just before SIGCONT (a does not answer)")
	cont()
	r.resumeFrom, r.resumeWhat = time.Now(), "SIGCONT"
	r.logf("SIGCONT to mariadbd on a")
	if err := r.awaitResume(ctx, true); err != nil {
		return err
	}
	r.logServers(ctx, "after SIGCONT")
	return nil
}

func exitOf(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit 0"
	case errors.As(err, &ee):
		return fmt.Sprintf("exit %d", ee.ExitCode())
	default:
		return err.Error()
	}
}

// get does one GET bounded by the client's timeout.
func get(ctx context.Context, c *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}
