package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/state"
)

// threeKilled returns the scenario that SIGKILLs `drain --to d` on a at
// step (a step of its journal: hold, fence (once the journal records the
// fence as sent), catch-up; or flip: as soon as a's state reads drained)
// and checks that the cluster recovers:
//
//   - before the flip, without anyone doing anything (keepalived runs
//     `hacheck check` on a every second, which recovers the journal): a
//     writable with the VIP, up, its journal gone; b and d up without a
//     hold; then `drain --to d` again completes the move;
//   - after the flip: the VIP on d, d writable (its notify promoted it), a
//     drained; a's `hacheck status` names `hacheck follow` for the replica
//     left behind; `hacheck follow` on b makes b replicate from d.
//
// Either way writes through the VIP resume within resumeWithin of the
// kill. For the kill in the catch-up, d applies with a 3 s delay, so that
// the catch-up lasts long enough to be hit; for the kill in the fence, a
// 3 s write on a makes the fence wait.
func threeKilled(step string) func(ctx context.Context, r *threeRun) (*lab.Node, []*lab.Node, error) {
	return func(ctx context.Context, r *threeRun) (*lab.Node, []*lab.Node, error) {
		l := r.l
		if step == "catch-up" {
			undo, err := r.lagD(ctx, 3)
			if err != nil {
				return nil, nil, err
			}
			defer func() {
				if err := undo(); err != nil {
					r.fail("take d's delay away: %v", err)
				}
			}()
		}
		if step == "fence" {
			// A write that runs for 3 s from before the drain: the fence
			// waits for it (until it kills it, after mysql.fence_grace),
			// so the kill lands while the fence is on the server even
			// when the workload leaves it nothing else to wait for.
			slow := make(chan error, 1)
			go func() {
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				_, err := r.dbs[l.A].db.ExecContext(sctx, "INSERT INTO demo.writes (id, server_id) SELECT 900000000, SLEEP(3)")
				slow <- err
			}()
			defer func() { r.note("the slow write on a ended with: %v", <-slow) }()
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return nil, nil, err
			}
		}
		killedAt, err := r.killDrainAt(ctx, step)
		if err != nil {
			return nil, nil, err
		}
		if step != "flip" {
			if err := r.rolledBack(ctx, killedAt); err != nil {
				return nil, nil, err
			}
			if step == "catch-up" {
				// d must be caught up before it can be the successor.
				if err := r.replicatesFrom(ctx, l.D, l.A); err != nil {
					return nil, nil, err
				}
			}
			return threeDrainTo(ctx, r)
		}
		return r.completedAfterFlip(ctx, killedAt)
	}
}

// killDrainAt starts `drain --to d` on a, SIGKILLs it once it reached
// step and returns when. A drain that finishes or fails before is an error.
func (r *threeRun) killDrainAt(ctx context.Context, step string) (time.Time, error) {
	l := r.l
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// `ip netns exec` gives the drain a mount namespace of its own, so
	// serve does not take it: the drain killed is a process of its own,
	// as with the packaged unit (serve as hacheck, the drain as root), and
	// its journal is recovered by the next command. A drain that serve
	// runs, killed, is cmd/hacheck's TestLiveServeDrainKilled.
	cmd := l.Command(dctx, l.A, l.A.Hacheck, "drain", "--to", l.D.Name, "--reason", "three-node test: killed at "+step, "--config", l.A.HacheckConfig)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return time.Time{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	reached := func() bool {
		if step == "flip" {
			st, _, err := nodeState(l.A)
			return err == nil && st == "drained"
		}
		j, err := drain.LoadJournal(state.Store{Dir: l.A.StateDir})
		// In the fence: once the journal has reached the step with the
		// intent saved (it is saved during the preconditions now, so this
		// is the step's start, just before the statement is sent; a fence
		// still waiting on the server is internal/db's
		// TestLiveKillPendingFence).
		return err == nil && j.Step == step && (step != "fence" || j.Fence != nil)
	}
	for !reached() {
		select {
		case err := <-exited:
			return time.Time{}, fmt.Errorf("drain --to d ended (%v) before it reached step %s:\n%s", err, step, out.String())
		case <-dctx.Done():
			_ = cmd.Process.Kill()
			return time.Time{}, fmt.Errorf("drain --to d never reached step %s:\n%s", step, out.String())
		case <-time.After(500 * time.Microsecond):
		}
	}
	at := "no journal"
	if j, err := drain.LoadJournal(state.Store{Dir: l.A.StateDir}); err == nil {
		at = j.Step
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	killedAt := time.Now()
	werr := <-exited
	r.note("SIGKILL of `drain --to d` on a at step %s (journal step %s) %s after it started; it ended with %v; its output:\n%s",
		step, at, msecs(killedAt.Sub(t0)), werr, strings.TrimSpace(out.String()))
	if werr == nil {
		return killedAt, fmt.Errorf("drain --to d finished before the kill at step %s landed", step)
	}
	return killedAt, nil
}

// waitFor polls cond every 50 ms until it returns "" (true) or d has
// passed, and returns the last reason it gave.
func waitFor(ctx context.Context, d time.Duration, cond func() string) string {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		why := cond()
		if why == "" || sleepCtx(ctx, 50*time.Millisecond) != nil {
			return why
		}
	}
}

// writesResumed waits (at most resumeWithin) until the writer has a write
// acknowledged after t, on's server being the one behind the VIP.
func (r *threeRun) writesResumed(ctx context.Context, on *lab.Node, t time.Time) {
	why := waitFor(ctx, resumeWithin, func() string {
		if a, ok := firstAfter(r.w.snapshot(), t); ok {
			r.note("writes through the VIP resumed on %s %s after the kill (id %d)", on.Name, msecs(a.at.Sub(t)), a.id)
			return ""
		}
		_, last := r.w.stats()
		return "no write acknowledged since; last error: " + last
	})
	if why != "" {
		r.fail("writes through the VIP did not resume on %s within %v of the kill: %s", on.Name, resumeWithin, why)
	}
}

// rolledBack checks what a kill before the flip must leave once a's
// journal is recovered: a writable with the VIP, up, no journal; b and d
// up without a hold.
func (r *threeRun) rolledBack(ctx context.Context, killedAt time.Time) error {
	l := r.l
	why := waitFor(ctx, 10*time.Second, func() string {
		if _, err := drain.LoadJournal(state.Store{Dir: l.A.StateDir}); err == nil {
			return "a's drain journal is still there"
		}
		for _, n := range l.Keepalived() {
			if st, held, err := nodeState(n); err != nil || st != "up" || held {
				return fmt.Sprintf("%s is %q (hold %v, %v)", n.Name, st, held, err)
			}
		}
		if ro, err := r.dbs[l.A].readOnly(ctx); err != nil || ro {
			return fmt.Sprintf("a is read-only (%v, %v)", ro, err)
		}
		return ""
	})
	if why != "" {
		out, _ := r.hacheck(ctx, l.A, "status")
		return fmt.Errorf("not rolled back 10 s after the kill: %s; a's status:\n%s", why, out)
	}
	r.note("rolled back %s after the kill: a writable and up, its journal recovered; b and d up, not held", msecs(time.Since(killedAt)))
	r.vipOn(l.A)
	r.writesResumed(ctx, l.A, killedAt)
	out, _ := r.hacheck(ctx, l.A, "status")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "recovery") || strings.Contains(line, "last drain") {
			r.note("a's status: %s", strings.TrimSpace(line))
		}
	}
	return nil
}

// completedAfterFlip checks what a kill after the flip must leave: the VIP
// on d, d writable, a drained and its status naming `hacheck follow`;
// then runs `hacheck follow` on b, which must make b replicate from d.
func (r *threeRun) completedAfterFlip(ctx context.Context, killedAt time.Time) (*lab.Node, []*lab.Node, error) {
	l := r.l
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	_, err := r.mon.WaitHolder(wctx, l.D)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	if err := waitWritable(ctx, r.dbs[l.D], 15*time.Second); err != nil {
		return nil, nil, err
	}
	r.note("after the kill: VIP on d, d writable %s after the kill", msecs(time.Since(killedAt)))
	r.writesResumed(ctx, l.D, killedAt)
	if st, _, err := nodeState(l.A); err != nil || st != "drained" {
		r.fail("a is %q after the flip (%v), want drained", st, err)
	}
	var status string
	why := waitFor(ctx, 10*time.Second, func() string {
		status, _ = r.hacheck(ctx, l.A, "status")
		if !strings.Contains(status, "hacheck follow") {
			return "no `hacheck follow` in a's status"
		}
		return ""
	})
	if why != "" {
		r.fail("%s after a kill after the flip (b still follows a); a's status:\n%s", why, status)
	} else {
		for _, line := range strings.Split(status, "\n") {
			if strings.Contains(line, "hacheck follow") {
				r.note("a's status: %s", strings.TrimSpace(line))
			}
		}
	}
	if st, held, err := nodeState(l.B); err == nil {
		r.note("b after the kill: %s, hold %v (a hold ends by its lease)", st, held)
	}
	out, code := r.hacheck(ctx, l.B, "follow")
	r.note("`hacheck follow` on b: exit %d\n%s", code, out)
	if code != 0 {
		r.fail("hacheck follow on b exited %d", code)
	}
	if err := r.replicatesFrom(ctx, l.B, l.D); err != nil {
		r.fail("%v", err)
		return l.D, nil, nil
	}
	r.note("b replicates from d")
	if at := r.vipEverOn(l.B); len(at) > 0 {
		r.fail("the VIP appeared on b at %v", at)
	}
	return l.D, []*lab.Node{l.B}, nil
}
