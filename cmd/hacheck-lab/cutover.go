package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/lab"
)

// cutoverResult is one measured move of the primary.
type cutoverResult struct {
	from, to *lab.Node
	start    time.Time
	vipMove  time.Duration // drain started -> VIP on the new holder
	blocked  time.Duration // last acknowledged write before the move -> first after
	timeline []event
}

// hacheckCutover moves the primary from -> to with `hacheck drain --follow`
// on from, timestamping each line the drain prints, the VIP appearing on
// to, to's server becoming writable and the first write acknowledged after
// the fence; then undrains from (a read-only standby replicating from to).
func hacheckCutover(ctx context.Context, l *lab.Lab, dbs map[*lab.Node]*dbNode, obs *observers, w *writer, from, to *lab.Node) (cutoverResult, error) {
	r := cutoverResult{from: from, to: to}
	add := r.add
	wctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	promoted := make(chan time.Time, 1)
	go func() { // poll the new primary's read_only
		for wctx.Err() == nil {
			if ro, err := dbs[to].readOnly(wctx); err == nil && !ro {
				promoted <- time.Now()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	cmd := exec.CommandContext(wctx, from.Hacheck, "drain", "--follow", "--reason", "cutover", "--config", from.HacheckConfig)
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	r.start = time.Now()
	add(r.start, "hacheck-lab runs hacheck drain --follow on "+from.Name)
	if err := l.StartIn(from, cmd); err != nil {
		return r, fmt.Errorf("drain %s: %w", from.Name, err)
	}
	// fenceAt is when the fence is known to be in place: no write can be
	// acknowledged by the old primary after it.
	var fenceAt time.Time
	var output []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		now, line := time.Now(), sc.Text()
		output = append(output, line)
		switch {
		case strings.HasPrefix(line, "step fence: done"):
			fenceAt = now
		case strings.Contains(line, "the fence waited"):
			// "  the fence waited 305ms for running writes; it killed 8 connection(s) ..."
			what, _, _ := strings.Cut(strings.TrimSpace(line), " that held it up")
			add(now, what)
		case strings.Contains(line, "not answering for"):
			add(now, strings.TrimSpace(line))
		case strings.Contains(line, "now replicates from"):
			add(now, from.Name+" follows "+to.Name)
		}
	}
	if err := cmd.Wait(); err != nil {
		rec, _ := os.ReadFile(filepath.Join(to.StateDir, cutover.NotifyRecordName))
		return r, fmt.Errorf("drain --follow on %s: %w\n%s\n%s\n%s's notify.json: %s\nthe end of %s's serve log:\n%s", from.Name, err,
			strings.Join(output, "\n"), stderr.String(), to.Name, rec, to.Name, lab.Tail(filepath.Join(to.Dir, "serve.log"), 20))
	}
	if fenceAt.IsZero() {
		return r, fmt.Errorf("drain on %s printed no fence step:\n%s", from.Name, strings.Join(output, "\n"))
	}
	if err := addDrainRecord(&r); err != nil {
		return r, err
	}
	if err := waitMoved(wctx, obs, &r); err != nil {
		return r, err
	}
	select {
	case at := <-promoted:
		r.addMilestone(at, msWritable, to.Name+" read_only OFF (seen by polling every 5 ms)")
	case <-wctx.Done():
		return r, fmt.Errorf("%s never became writable", to.Name)
	}
	addNotify(&r, from, "FAULT", msFault, "")
	addNotify(&r, to, "MASTER", msMaster, msPromoted)
	if err := waitFirstWrite(wctx, w, &r, fenceAt); err != nil {
		return r, err
	}
	// Make the old primary an eligible standby again.
	off := lab.LogSize(from.KeepalivedLog)
	if _, err := hacheckOn(ctx, l, from, "undrain", "--reason", "cutover done"); err != nil {
		return r, err
	}
	if _, err := lab.WaitForLog(wctx, from.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		return r, err
	}
	r.sortTimeline()
	return r, nil
}

// waitVIP waits for the VIP on r.to and sets r.vipMove.
func waitVIP(ctx context.Context, obs *observers, r *cutoverResult) error {
	if _, err := obs.mon.WaitHolder(ctx, r.to); err != nil {
		return err
	}
	added := obs.mon.AddedSince(r.to, r.start)
	if len(added) == 0 {
		return fmt.Errorf("no VIP event on %s", r.to.Name)
	}
	r.vipMove = added[0].Sub(r.start)
	return nil
}

// waitMoved is waitVIP, then adds what the network saw.
func waitMoved(ctx context.Context, obs *observers, r *cutoverResult) error {
	if err := waitVIP(ctx, obs, r); err != nil {
		return err
	}
	// The new holder's gratuitous ARP follows the address within a few ms.
	if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
		return err
	}
	obs.addNetwork(r)
	return nil
}

// waitFirstWrite waits for the first write acknowledged after the fence
// and sets the write-blocked window: from the last one acknowledged by the
// old primary (before the fence) to it.
func waitFirstWrite(ctx context.Context, w *writer, r *cutoverResult, fenceAt time.Time) error {
	for {
		if a, ok := firstAfter(w.snapshot(), fenceAt); ok {
			r.addMilestone(a.at, msFirstWrite, fmt.Sprintf("first write acknowledged on %s (id %d)", r.to.Name, a.id))
			if b, ok := lastBefore(w.snapshot(), fenceAt); ok {
				r.blocked = a.at.Sub(b.at)
				r.add(b.at, fmt.Sprintf("last write acknowledged on %s (id %d)", r.from.Name, b.id))
			}
			return nil
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			fails, last := w.stats()
			return fmt.Errorf("no write acknowledged after the cutover (%d failed, last: %s)", fails, last)
		}
	}
}
