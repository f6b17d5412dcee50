package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// event is one moment of a cutover's timeline.
type event struct {
	at   time.Time
	what string
}

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
func hacheckCutover(ctx context.Context, l *lab.Lab, dbs map[*lab.Node]*dbNode, mon *lab.VIPMonitor, w *writer, from, to *lab.Node) (cutoverResult, error) {
	r := cutoverResult{from: from, to: to}
	var mu sync.Mutex
	add := func(at time.Time, what string) {
		mu.Lock()
		r.timeline = append(r.timeline, event{at, what})
		mu.Unlock()
	}
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

	cmd := l.Command(wctx, from, from.Hacheck, "drain", "--follow", "--reason", "cutover", "--config", from.HacheckConfig)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	r.start = time.Now()
	add(r.start, "hacheck drain --follow on "+from.Name)
	if err := cmd.Start(); err != nil {
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
			add(now, "fence: "+from.Name+" read-only")
		case strings.Contains(line, "the fence waited"):
			// "  the fence waited 305ms for running writes; it killed 8 connection(s) ..."
			what, _, _ := strings.Cut(strings.TrimSpace(line), " that held it up")
			add(now, what)
		case strings.HasPrefix(line, "step catch-up: done"):
			add(now, "catch-up reached: "+to.Name+" applied "+from.Name+"'s frozen GTID position")
		case strings.HasPrefix(line, "drained ("):
			add(now, "flip: "+from.Name+" drained (track file 1)")
		case strings.Contains(line, "now replicates from"):
			add(now, from.Name+" follows "+to.Name)
		}
	}
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("drain --follow on %s: %w\n%s\n%s", from.Name, err, strings.Join(output, "\n"), stderr.String())
	}
	if fenceAt.IsZero() {
		return r, fmt.Errorf("drain on %s printed no fence step:\n%s", from.Name, strings.Join(output, "\n"))
	}
	if _, err := mon.WaitHolder(wctx, to); err != nil {
		return r, err
	}
	added := mon.AddedSince(to, r.start)
	if len(added) == 0 {
		return r, fmt.Errorf("no VIP event on %s", to.Name)
	}
	r.vipMove = added[0].Sub(r.start)
	add(added[0], "VIP moved to "+to.Name)
	select {
	case at := <-promoted:
		add(at, to.Name+" promoted (read_only OFF)")
	case <-wctx.Done():
		return r, fmt.Errorf("%s never became writable", to.Name)
	}
	// First acknowledged write after the fence.
	for {
		if a, ok := firstAfter(w.snapshot(), fenceAt); ok {
			add(a.at, fmt.Sprintf("first write acknowledged on %s (id %d)", to.Name, a.id))
			// The last write acknowledged by the old primary: just before
			// the fence.
			if b, ok := lastBefore(w.snapshot(), fenceAt); ok {
				r.blocked = a.at.Sub(b.at)
			}
			break
		}
		if err := sleepCtx(wctx, 10*time.Millisecond); err != nil {
			fails, last := w.stats()
			return r, fmt.Errorf("no write acknowledged after the cutover (%d failed, last: %s)", fails, last)
		}
	}
	// Make the old primary an eligible standby again.
	off := lab.LogSize(from.KeepalivedLog)
	if _, err := hacheckOn(ctx, l, from, "undrain", "--reason", "cutover done"); err != nil {
		return r, err
	}
	if _, err := lab.WaitForLog(wctx, from.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		return r, err
	}
	sort.Slice(r.timeline, func(i, j int) bool { return r.timeline[i].at.Before(r.timeline[j].at) })
	return r, nil
}

func printTimeline(w io.Writer, r cutoverResult) {
	for _, e := range r.timeline {
		fmt.Fprintf(w, "  %+8.3f s  %s\n", e.at.Sub(r.start).Seconds(), e.what)
	}
}
