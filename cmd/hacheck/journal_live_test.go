package main

// Crash tests of the drain journal: a real `hacheck drain` process (the
// binary, built by the test) is killed with SIGKILL at random points, and
// the next hacheck that looks (`check`, or a running `serve`) must leave
// the old primary writable with the state up, or find the flip done; never
// both servers writable; state.json always loads.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/mariadbtest"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/txnload"
)

// buildHacheck builds cmd/hacheck into a temp directory.
func buildHacheck(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hacheck")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// rounds is the CI size, or the full size from the environment variable.
func rounds(t *testing.T, env string, ci int) int {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive number", env, v)
		}
		return n
	}
	return ci
}

// journalStep is the step the drain journal names, "" without a journal.
func journalStep(dir string) string {
	j, err := drain.LoadJournal(state.Store{Dir: dir})
	if err != nil {
		return ""
	}
	return j.Step
}

// TestLiveDrainKilledIsRecovered kills `hacheck drain` at random points:
// any time in its first 300 ms (before, during and after the fence, at the
// flip), during a slow catch-up (the peer applies with MASTER_DELAY), and
// as soon as the state reads drained. After each kill, `hacheck check`
// runs as keepalived would, every 200 ms for at most 5 s, until the old
// primary is writable with the state up, or the state is drained (the
// flip happened). HACHECK_DRAIN_KILLS sets the number of kills (CI: 8).
func TestLiveDrainKilledIsRecovered(t *testing.T) {
	bin := buildHacheck(t)
	a, b := livePair(t, "", "")
	killDrains(t, a, b, rounds(t, "HACHECK_DRAIN_KILLS", 8), drainKill{victim: victimDrain, drain: func(args ...string) *exec.Cmd {
		return exec.Command(bin, args...)
	}})
}

// TestLiveServeDrainKilled is TestLiveDrainKilledIsRecovered for a drain
// that `serve` runs for the CLI, as installed (the lean front as hacheck,
// serve on admin.socket): once with the CLI killed (serve must interrupt
// its drain and undo it, or find the flip done), once with serve itself
// killed under its drain (the next `hacheck check` recovers the journal,
// as for a killed drain process; serve is then started again, as systemd
// does). HACHECK_DRAIN_KILLS sets the number of kills of each (CI: 6).
func TestLiveServeDrainKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	front := installHacheck(t, ctx)
	for _, v := range []victim{victimCLI, victimServe} {
		t.Run(string(v), func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "admin.sock")
			a, b := livePair(t, "admin:\n  enabled: true\n  socket: "+sock+"\n", "")
			srv := &serveProc{t: t, bin: front, config: a.config, sock: sock}
			srv.start()
			t.Cleanup(srv.stop)
			killDrains(t, a, b, rounds(t, "HACHECK_DRAIN_KILLS", 6), drainKill{victim: v, serve: srv, drain: func(args ...string) *exec.Cmd {
				cmd := exec.Command(front, args...)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no HACHECK_*: the front hands the drain to serve
				return cmd
			}})
		})
	}
}

// installHacheck builds the lean front and the full program in the
// package's layout (sbin/hacheck, lib/hacheck/hacheck) and returns the
// front.
func installHacheck(t *testing.T, ctx context.Context) string {
	t.Helper()
	root := t.TempDir()
	front := filepath.Join(root, "sbin", "hacheck")
	for pkg, out := range map[string]string{"../hacheck-front": front, ".": filepath.Join(root, "lib", "hacheck", "hacheck")} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}
	return front
}

// serveProc is a `hacheck serve` the test starts, kills and starts again.
type serveProc struct {
	t                 *testing.T
	bin, config, sock string
	cmd               *exec.Cmd
	log               bytes.Buffer
	exited            chan error
}

// start starts serve and waits for its admin socket to answer.
func (s *serveProc) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "serve", "--config", s.config)
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	s.log.Reset()
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan error, 1)
	go func(c *exec.Cmd, e chan error) { e <- c.Wait() }(s.cmd, s.exited)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", s.sock); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("serve did not listen on %s within 15 s:\n%s", s.sock, s.log.String())
		}
	}
}

// kill ends serve with SIGKILL and waits for it.
func (s *serveProc) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

func (s *serveProc) stop() {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		<-s.exited
		s.cmd = nil
	}
}

// victim is the process a killed-drain test kills.
type victim string

const (
	victimDrain victim = "drain process" // `hacheck drain` running the drain itself
	victimCLI   victim = "cli"           // the front whose drain serve runs
	victimServe victim = "serve"         // serve, while it runs the CLI's drain
)

// drainKill is how killDrains runs a drain and what it kills.
type drainKill struct {
	victim victim
	drain  func(args ...string) *exec.Cmd // `hacheck drain ...`, not started
	serve  *serveProc                     // victimCLI, victimServe: serve on admin.socket
}

// holdTableLock holds LOCK TABLES table WRITE on a connection of db for d.
func holdTableLock(ctx context.Context, db *sql.DB, table string, d time.Duration) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "LOCK TABLES "+table+" WRITE"); err != nil {
		return err
	}
	time.Sleep(d)
	_, err = c.ExecContext(ctx, "UNLOCK TABLES")
	return err
}

// killDrains runs n drains of A under a transactional workload, kills each
// (k.victim) at a point chosen by the round, and checks what the next
// `hacheck check` finds (see TestLiveDrainKilledIsRecovered).
func killDrains(t *testing.T, a, b *dbNode, n int, k drainKill) {
	stateDir := filepath.Join(a.dir, "state")
	// A transactional workload on A throughout (4 clients, hot rows, an
	// account without READ_ONLY ADMIN so the fence stops it): no commit it
	// saw acknowledged may be missing at the end, on A or on B.
	for _, s := range []*mariadbtest.Server{a.srv, b.srv} {
		s.CreateUserWith(t, "txn", "txn-pw-3c9", "SELECT, INSERT, UPDATE, DELETE")
	}
	lc := txnload.Config{DSN: a.srv.DSN("txn", "txn-pw-3c9"), Threads: 4}
	setupCtx, setupCancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := txnload.Setup(setupCtx, a.srv.DB(), lc); err != nil {
		t.Fatal(err)
	}
	setupCancel()
	b.srv.WaitCaughtUp(t, a.srv, 20*time.Second)
	load, err := txnload.Start(lc)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Stop()
	counts := map[string]int{}
	var recoverTimes []time.Duration
	lastGen := uint64(0)
	for round := range n {
		mode := []string{"early", "steps", "fence", "catch-up", "flip", "steps"}[round%6]
		slowWrite := make(chan error, 1)
		if mode == "fence" {
			// A session holding app.t's write lock for 1.5 s: the fence
			// waits for it, and it has nothing the fence kills (no
			// statement, no InnoDB transaction), so the fence stays
			// pending on the server while the drain is killed. (A running
			// write would be killed within milliseconds under the load:
			// db.FenceStuck.)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				slowWrite <- holdTableLock(ctx, a.srv.DB(), "app.t", 1500*time.Millisecond)
			}()
			time.Sleep(100 * time.Millisecond)
		}
		if mode == "catch-up" {
			b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 30", "START SLAVE")
			wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := b.srv.WaitReplicaRunning(wctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			a.srv.Exec(t, "INSERT INTO app.t VALUES ("+strconv.Itoa(200000+round)+", 'slow')")
		}
		var out bytes.Buffer
		cmd := k.drain("drain", "--config", a.config, "--reason", "kill round "+strconv.Itoa(round))
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		waitStep := func(want string) {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Microsecond) {
				if st := journalStep(stateDir); st != "" && (want == "" || st == want) {
					return
				}
			}
			cmd.Process.Signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
			t.Fatalf("round %d: the drain never reached step %q:\n%s", round, want, out.String())
		}
		switch mode {
		case "early": // before the journal: preconditions
			time.Sleep(time.Duration(rand.IntN(100_000)) * time.Microsecond)
		case "steps": // anywhere from the journal's first write to the flip
			waitStep("")
			time.Sleep(time.Duration(rand.IntN(15_000)) * time.Microsecond)
		case "fence": // while SET GLOBAL read_only waits for the slow write
			waitStep("fence")
			time.Sleep(time.Duration(rand.IntN(300_000)) * time.Microsecond)
		case "catch-up":
			for deadline := time.Now().Add(10 * time.Second); journalStep(stateDir) != "catch-up" && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(200_000)) * time.Microsecond)
		case "flip":
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				if s, err := (state.Store{Dir: stateDir}).Load(); err == nil && !s.IsUp() {
					break
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		step := journalStep(stateDir)
		killed := false
		if k.victim == victimServe {
			// The drain is serve's while the CLI waits for its end.
			select {
			case werr := <-exited:
				exited <- werr
			default:
				killed = true
			}
			k.serve.kill()
			<-exited // the connection broke: the CLI ends too
		} else {
			cmd.Process.Signal(syscall.SIGKILL)
			werr := <-exited
			var ee *exec.ExitError
			if errors.As(werr, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed = true
				}
			}
		}
		// What the kill left, before anyone recovers it.
		leftFenced := a.readOnly()
		if step == "" {
			step = "no journal"
		}
		if !killed {
			step = "finished before the kill"
		}

		// Recovery without a person: keepalived's check.
		start := time.Now()
		var verdict string
		for {
			if b.readOnly() == false && a.readOnly() == false {
				t.Fatalf("round %d: both servers writable", round)
			}
			s, err := state.Store{Dir: stateDir}.Load()
			if err != nil {
				t.Fatalf("round %d: state.json: %v", round, err)
			}
			if s.Generation < lastGen {
				t.Fatalf("round %d: generation went back from %d to %d", round, lastGen, s.Generation)
			}
			lastGen = s.Generation
			code, cout, _ := a.hacheck("check")
			if s.IsUp() && !a.readOnly() && code == ExitOK {
				verdict = "rolled back: writable, up"
				break
			}
			if !s.IsUp() {
				verdict = "flipped: drained"
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("round %d (%s, killed at %s): not recovered after 5 s: state %s, %s read_only=%v, check exit %d %s\ndrain output:\n%s",
					round, mode, step, s.State, a.name, a.readOnly(), code, cout, out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
		took := time.Since(start)
		if leftFenced && verdict != "flipped: drained" {
			recoverTimes = append(recoverTimes, took)
		}
		if b.readOnly() == false {
			t.Fatalf("round %d: the peer is writable (nobody promoted it)", round)
		}
		if mode == "fence" {
			// The dead drain's SET GLOBAL read_only must not land once the
			// table lock is released.
			if err := <-slowWrite; err != nil {
				t.Fatalf("round %d: table lock: %v", round, err)
			}
			time.Sleep(200 * time.Millisecond)
			if verdict != "flipped: drained" && a.readOnly() {
				t.Fatalf("round %d: %s read-only again after the recovery: the dead drain's fence landed late", round, a.name)
			}
		}
		counts[step+" -> "+verdict]++
		if testing.Verbose() {
			t.Logf("round %d: %s: killed at %s (fenced: %v) -> %s in %s", round, mode, step, leftFenced, verdict, took.Round(time.Millisecond))
		}
		// status completes a flipped drain's record too; then no journal
		// is left in any case.
		// (serve, undoing the drain of a killed CLI, removes its journal
		// just after the server is writable again.)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			a.hacheck("status")
			_, err := drain.LoadJournal(state.Store{Dir: stateDir})
			if errors.Is(err, drain.ErrNoJournal) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: journal left after check and status: %v", round, err)
			}
		}
		if killed && leftFenced && verdict != "flipped: drained" {
			r, ok, err := drain.LoadRecord(state.Store{Dir: stateDir})
			switch {
			case err != nil || !ok:
				t.Fatalf("round %d: last_drain.json after a rolled back drain: %+v %v", round, r, err)
			case k.victim == victimCLI:
				// serve saw its CLI go and undid its own drain.
				if r.Outcome != "refused" || r.Reason != "kill round "+strconv.Itoa(round) {
					t.Fatalf("round %d: serve's drain after its CLI was killed: %+v", round, r)
				}
			case r.Outcome != "interrupted" || !strings.Contains(r.Recovery, "interrupted drain rolled back"):
				t.Fatalf("round %d: last_drain.json after a rolled back drain: %+v", round, r)
			}
		}
		if k.victim == victimServe {
			k.serve.start()
		}

		// Back to the start: A the writable primary, up; B its replica.
		if mode == "catch-up" {
			b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE")
		}
		if verdict == "flipped: drained" {
			a.srv.Exec(t, "SET GLOBAL read_only = OFF")
			a.must("undrain", "--keepalived-config", "/nonexistent")
		}
		b.srv.WaitCaughtUp(t, a.srv, 40*time.Second)
		wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if err := b.srv.WaitReplicaRunning(wctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	stats := load.Stop()
	vctx, vcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer vcancel()
	b.srv.WaitCaughtUp(t, a.srv, 40*time.Second)
	for _, s := range []*mariadbtest.Server{a.srv, b.srv} {
		lost, rows, err := txnload.Lost(vctx, s.DB(), "", stats.Acked)
		if err != nil {
			t.Fatal(err)
		}
		if len(lost) > 0 {
			t.Errorf("%s: %d acknowledged transactions missing (first %v) of %d", s.Addr, len(lost), lost[:min(len(lost), 10)], rows)
		}
	}
	ca, err := txnload.Checksums(vctx, a.srv.DB(), lc)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := txnload.Checksums(vctx, b.srv.DB(), lc)
	if err != nil {
		t.Fatal(err)
	}
	if d := txnload.DiffChecksums(ca, cb); len(d) > 0 {
		t.Errorf("tables differ on A and B: %v", d)
	}
	t.Logf("transactional workload through every kill: %d commits acknowledged, %d failed, none missing on A or B, CHECKSUM TABLE equal on both", len(stats.Acked), stats.Failed)
	t.Logf("%d drains killed with SIGKILL; what the kill hit -> what the next `hacheck check` found:", n)
	for k, v := range counts {
		t.Logf("  %3d  %s", v, k)
	}
	if len(recoverTimes) > 0 {
		slowest := time.Duration(0)
		for _, d := range recoverTimes {
			slowest = max(slowest, d)
		}
		t.Logf("%d kills left %s read-only before the flip; each was writable again by the first `hacheck check` (slowest %s)", len(recoverTimes), a.name, slowest.Round(time.Millisecond))
	}
}

// TestLiveServeRecoversAKilledDrain: with `hacheck serve` running and no
// other command, a drain killed during its catch-up is rolled back by
// serve within a second, and /status says what recovery did.
func TestLiveServeRecoversAKilledDrain(t *testing.T) {
	bin := buildHacheck(t)
	a, b := livePair(t, "", "")
	stateDir := filepath.Join(a.dir, "state")
	serve := exec.Command(bin, "serve", "--config", a.config)
	var serveOut bytes.Buffer
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })

	b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 30", "START SLAVE")
	wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.srv.WaitReplicaRunning(wctx); err != nil {
		t.Fatal(err)
	}
	a.srv.Exec(t, "INSERT INTO app.t VALUES (300001, 'slow')")
	var out bytes.Buffer
	cmd := exec.Command(bin, "drain", "--config", a.config)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); journalStep(stateDir) != "catch-up"; {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the drain never reached its catch-up:\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if !a.readOnly() {
		t.Fatal("the drain was at its catch-up, yet the primary is writable")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed := time.Now()
	for a.readOnly() {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("serve did not undo the dead drain's fence within 5 s\nserve log:\n%s", serveOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	if a.stateName() != state.Up {
		t.Fatalf("state %s after the recovery", a.stateName())
	}
	code, sout, _ := a.hacheck("status", "--json")
	var rep struct {
		Drain struct {
			Last struct{ Outcome, Recovery string }
		}
	}
	if err := json.Unmarshal([]byte(sout), &rep); err != nil || rep.Drain.Last.Outcome != "interrupted" || !strings.Contains(rep.Drain.Last.Recovery, "interrupted drain rolled back") {
		t.Fatalf("status --json (exit %d) after the recovery: %v\n%s", code, err, sout)
	}
	_, text, _ := a.hacheck("status")
	if !strings.Contains(text, "interrupted drain rolled back") {
		t.Fatalf("status does not show the recovery:\n%s", text)
	}
	t.Logf("a drain killed during its catch-up: serve made %s writable again %s after the kill\n%s", a.name, took.Round(time.Millisecond), text)
	b.srv.Exec(t, "STOP SLAVE", "CHANGE MASTER TO MASTER_DELAY = 0", "START SLAVE")
}

// TestDrainUndrainKilled kills `hacheck drain --force` and `hacheck
// undrain` 0-20 ms after they start, HACHECK_FLIP_KILLS times (CI: 60):
// state.json always loads, its generation never decreases, `check` agrees
// with it, and the next command leaves no temp file behind.
func TestDrainUndrainKilled(t *testing.T) {
	bin := buildHacheck(t)
	n := newNode(t, "")
	st := state.Store{Dir: n.stateDir()}
	if code, out, errOut := n.hacheck("undrain"); code != ExitOK {
		t.Fatalf("undrain: %d %s %s", code, out, errOut)
	}
	total := rounds(t, "HACHECK_FLIP_KILLS", 60)
	var lastGen uint64
	killedMid, finished, tempsSeen, changedBeforeKill := 0, 0, 0, 0
	for round := range total {
		args := []string{"undrain", "--config", n.config}
		if round%2 == 0 {
			args = []string{"drain", "--force", "--reason", "kill", "--config", n.config}
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err == nil {
			finished++
		} else {
			killedMid++
		}
		s, err := st.Load()
		if err != nil {
			t.Fatalf("round %d: state.json after the kill: %v", round, err)
		}
		if s.Generation > lastGen {
			changedBeforeKill++
		}
		if s.Generation < lastGen {
			t.Fatalf("round %d: generation went back from %d to %d", round, lastGen, s.Generation)
		}
		lastGen = s.Generation
		code, out, _ := n.hacheck("check")
		if (code == ExitOK) != s.IsUp() {
			t.Fatalf("round %d: check exit %d (%s) but the state is %s", round, code, strings.TrimSpace(out), s.State)
		}
		if left, _ := filepath.Glob(filepath.Join(n.stateDir(), ".*.tmp-*")); len(left) > 0 {
			tempsSeen++
		}
		// The next command, which also sets the state the next round's
		// killed process changes (drain needs up, undrain drained): it
		// must leave no temp file.
		next := "drain"
		if round%2 == 1 {
			next = "undrain"
		}
		nargs := []string{next}
		if next == "drain" {
			nargs = append(nargs, "--force")
		}
		if code, out, errOut := n.hacheck(nargs...); code != ExitOK {
			t.Fatalf("round %d: %s: exit %d %s %s", round, next, code, out, errOut)
		}
		if left, _ := filepath.Glob(filepath.Join(n.stateDir(), ".*.tmp-*")); len(left) > 0 {
			t.Fatalf("round %d: temp files left after the next command (%s): %v", round, next, left)
		}
		if s, err := st.Load(); err != nil || s.Generation < lastGen {
			t.Fatalf("round %d: after %s: %+v %v", round, next, s, err)
		} else {
			lastGen = s.Generation
		}
	}
	t.Logf("%d SIGKILLs of drain --force / undrain 0-20 ms after start: %d killed before exiting, %d had finished; state.json loaded every time, generation never went back (last %d), check agreed every time; %d kills left a temp file, the next command removed every one; %d killed processes had changed the state before they died",
		total, killedMid, finished, lastGen, tempsSeen, changedBeforeKill)
}

// TestLiveFollowKilledIsShown: `hacheck follow` killed at each of its
// steps leaves a journal that `status` shows with the command to run, and
// that command finishes the follow and removes it.
func TestLiveFollowKilledIsShown(t *testing.T) {
	bin := buildHacheck(t)
	a, b := livePair(t, "", "")
	stateDir := filepath.Join(a.dir, "state")
	a.must("drain", "--reason", "follow kill test")
	if out := b.must("notify", "INSTANCE", "VI_1", "MASTER", "100"); !strings.Contains(out, "promoted") {
		t.Fatalf("notify MASTER: %s", out)
	}
	followStep := func() string {
		var j struct{ Step string }
		ok, err := state.LoadJSON(filepath.Join(stateDir, "follow.journal.json"), &j)
		if err != nil || !ok {
			return ""
		}
		return j.Step
	}
	for _, at := range []string{"change-source", "start-replica", "wait-running"} {
		// The last step can be over within a millisecond (replication
		// runs at once): a follow that finished before the kill landed is
		// tried again, a few times.
		var out bytes.Buffer
		killed := false
		for attempt := 1; attempt <= 5 && !killed; attempt++ {
			// From scratch each time: A fenced, not replicating.
			a.srv.Exec(t, "STOP SLAVE", "RESET SLAVE ALL")
			cmd := exec.Command(bin, "follow", "--config", a.config)
			out.Reset()
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var werr error
		wait:
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Microsecond) {
				if followStep() == at {
					cmd.Process.Signal(syscall.SIGKILL)
					werr = <-exited
					break
				}
				select {
				case werr = <-exited:
					break wait // finished before the step was seen
				default:
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					<-exited
					t.Fatalf("follow never reached %s:\n%s", at, out.String())
				}
			}
			var ee *exec.ExitError
			if errors.As(werr, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					killed = true
				}
			}
		}
		if !killed {
			t.Logf("follow finished before a kill at step %s could land, 5 times: not tested there", at)
			continue
		}
		_, text, _ := a.hacheck("status")
		if !strings.Contains(text, "INTERRUPTED: follow") || !strings.Contains(text, "run `hacheck follow`") {
			t.Fatalf("killed at %s: status does not show the interrupted follow:\n%s", at, text)
		}
		a.must("follow")
		if followStep() != "" {
			t.Fatalf("killed at %s: journal left after hacheck follow", at)
		}
		if _, text, _ = a.hacheck("status"); strings.Contains(text, "INTERRUPTED: follow") {
			t.Fatalf("status still shows the follow after it was run again:\n%s", text)
		}
		t.Logf("follow killed at step %s: status showed it; `hacheck follow` then finished it", at)
	}
}
