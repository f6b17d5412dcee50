package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
)

// The accident hacheck exists to prevent, replayed: a job that copies "the
// primary's database to the standby" is started every second on both
// nodes, and the primary moves there and back under the writer. Gated by
// `hacheck run --role primary` it must run only on the primary of the
// moment, and no acknowledged write may be overwritten.
//
// The job is a copy in miniature: it makes the peer's demo.writes equal
// to this server's by deleting there (outside the binary log, as a restored
// copy would be) the rows this server lacks: the rows above its own
// highest id, less those it has by the time it looks again. Run on the
// primary, against its standby, it deletes nothing: every row the standby
// has came from the primary. Run on the wrong side, it deletes the
// acknowledged writes the primary has and the standby has not applied yet,
// as the accident did. The job also writes down what it saw itself: its own
// server's @@read_only and whether the VIP is on its own eth0 (an exact
// match of the address).
const accidentJob = `#!/bin/sh
set -eu
local_sock=%[1]s peer_sock=%[2]s log=%[3]s node=%[4]s vip=%[5]s
q() { mariadb -S "$1" -uroot -N -B -e "SET SESSION group_concat_max_len = 4194304; $2"; }
start=$(date +%%s.%%N)
ro=$(q "$local_sock" 'SELECT @@read_only')
held=no
if ip -o addr show dev eth0 | awk '{print $4}' | grep -qxF "$vip"; then held=yes; fi
max=$(q "$local_sock" 'SELECT COALESCE(MAX(id), 0) FROM demo.writes')
above=$(q "$peer_sock" "SELECT COALESCE(GROUP_CONCAT(id), '') FROM demo.writes WHERE id > $max")
deleted=0
if [ -n "$above" ]; then
	have=$(q "$local_sock" "SELECT COALESCE(GROUP_CONCAT(id), '0') FROM demo.writes WHERE id IN ($above)")
	deleted=$(q "$peer_sock" "SET sql_log_bin = 0; DELETE FROM demo.writes WHERE id IN ($above) AND id NOT IN ($have); SELECT ROW_COUNT()")
fi
echo "$node $start $(date +%%s.%%N) read_only=$ro vip=$held max=$max deleted=$deleted" >> "$log"
`

// jobRun is one start of the job through `hacheck run` on a node.
type jobRun struct {
	node       string
	start, end time.Time
	exit       int
	output     string
}

func cmdAccident(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("accident", flag.ContinueOnError)
	var c commonFlags
	c.register(fs)
	moves := fs.Int("moves", 2, "moves of the primary, alternating a->b and b->a")
	every := fs.Duration("every", time.Second, "how often the job is started on each node")
	settle := fs.Duration("settle", 4*time.Second, "time before the first move and after each")
	ungated := fs.Bool("ungated", false, "start the job without `hacheck run` (shows the accident)")
	wc := registerWriterFlags(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *moves < 1 || *every <= 0 {
		return &usageError{"--moves must be at least 1 and --every positive"}
	}
	if err := c.check(); err != nil {
		return err
	}
	tpl, err := lab.RepoFile("examples/keepalived.conf")
	if err != nil {
		return err
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	l, err := lab.New(bctx, lab.Config{Hacheck: c.hacheck, Front: c.front, Base: c.base, KeepalivedExample: tpl, Logger: c.logger(stderr)})
	cancel()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, l.Close()) }()
	obs, err := newObservers(l)
	if err != nil {
		return err
	}
	defer obs.Close()
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	dbs, err := upMySQLLab(uctx, l, true)
	cancel()
	defer func() {
		for _, d := range dbs {
			d.db.Close()
		}
	}()
	if err != nil {
		return err
	}
	jobs := map[*lab.Node]string{}
	for _, n := range l.Pair() {
		p := filepath.Join(n.Dir, "copy-to-standby.sh")
		body := fmt.Sprintf(accidentJob, dbs[n].socket, dbs[other(l, n)].socket, filepath.Join(n.Dir, "copy-to-standby.log"), n.Name, lab.VIP.String())
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			return err
		}
		jobs[n] = p
	}
	fmt.Fprintf(stderr, "accident: lab %s up, a is the primary; the job starts every %s on both nodes\n", l.ID, *every)
	w, err := startWriter(l, *wc)
	if err != nil {
		return err
	}

	// The schedule: each node starts the job every --every, one at a time
	// (as a systemd timer does).
	sctx, stopJobs := context.WithCancel(ctx)
	var mu sync.Mutex
	var runs []jobRun
	var wg sync.WaitGroup
	for _, n := range l.Pair() {
		wg.Go(func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-sctx.Done():
					return
				case <-t.C:
				}
				args := []string{"--config", n.HacheckConfig, "run", "--role", "primary", "--", jobs[n]}
				name := n.Hacheck
				if *ungated {
					name, args = jobs[n], nil
				}
				jctx, cancel := context.WithTimeout(context.WithoutCancel(sctx), 20*time.Second)
				r := jobRun{node: n.Name, start: time.Now()}
				out, err := l.Exec(jctx, n, name, args...)
				cancel()
				r.end, r.output = time.Now(), strings.TrimSpace(string(out))
				r.exit = exitStatus(err)
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
			}
		})
	}
	stopAll := func() []ack {
		stopJobs()
		wg.Wait()
		return w.Stop()
	}
	if err := sleepCtx(ctx, *settle); err != nil {
		stopAll()
		return err
	}
	from := l.A
	var moveLines []string
	for i := range *moves {
		to := other(l, from)
		r, err := hacheckCutover(ctx, l, dbs, obs, w, from, to)
		if err != nil {
			stopAll()
			return fmt.Errorf("move %d (%s->%s): %w", i+1, from.Name, to.Name, err)
		}
		line := fmt.Sprintf("move %d/%d %s->%s at %s: VIP moved after %s", i+1, *moves, from.Name, to.Name, r.start.Format("15:04:05.000"), msecs(r.vipMove))
		moveLines = append(moveLines, line)
		fmt.Fprintln(stderr, "accident: "+line)
		if err := sleepCtx(ctx, *settle); err != nil {
			stopAll()
			return err
		}
		from = to
	}
	acks := stopAll()
	lost, _, err := verifyAcks(ctx, dbs[from], acks)
	if err != nil {
		return err
	}
	var seen []string
	for _, n := range l.Pair() {
		s, err := readJobLog(filepath.Join(n.Dir, "copy-to-standby.log"))
		if err != nil {
			return err
		}
		seen = append(seen, s...)
	}
	return accidentVerdict(stdout, *ungated, moveLines, runs, seen, len(acks), lost)
}

// exitStatus is the exit status of a finished command (-1: it did not run).
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

func readJobLog(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// accidentVerdict prints what ran where and fails on a job run that saw
// its own server read-only or the VIP elsewhere, on one that deleted a
// row, on a gated job that never ran on one of the primaries, on an
// unexpected exit status, and on a lost acknowledged write.
func accidentVerdict(w io.Writer, ungated bool, moves []string, runs []jobRun, seen []string, acked int, lost []int64) error {
	var problems []string
	started := map[string]int{}
	exits := map[string]map[int]int{}
	for _, r := range runs {
		started[r.node]++
		if exits[r.node] == nil {
			exits[r.node] = map[int]int{}
		}
		exits[r.node][r.exit]++
		if !ungated && r.exit != 0 && r.exit != 120 {
			problems = append(problems, fmt.Sprintf("hacheck run on %s at %s exited %d: %s", r.node, r.start.Format("15:04:05.000"), r.exit, r.output))
		}
	}
	ran := map[string]int{}
	deleted := 0
	for _, line := range seen {
		f := strings.Fields(line)
		if len(f) < 7 {
			problems = append(problems, "job log line: "+line)
			continue
		}
		ran[f[0]]++
		if f[3] != "read_only=0" || f[4] != "vip=yes" {
			problems = append(problems, "the job ran where it must not: "+line)
		}
		var d int
		fmt.Sscanf(strings.TrimPrefix(f[6], "deleted="), "%d", &d)
		if d != 0 {
			deleted += d
			problems = append(problems, "the copy deleted rows on its peer: "+line)
		}
	}
	if !ungated && (ran["a"] == 0 || ran["b"] == 0) {
		problems = append(problems, fmt.Sprintf("the job ran %d times on a and %d on b: it must run on each primary", ran["a"], ran["b"]))
	}
	if len(lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged writes lost (first %v)", len(lost), lost[:min(5, len(lost))]))
	}
	mode := "gated by `hacheck run --role primary`"
	if ungated {
		mode = "ungated (the accident)"
	}
	fmt.Fprintf(w, "accident replay, %s:\n", mode)
	for _, m := range moves {
		fmt.Fprintln(w, "  "+m)
	}
	for _, n := range []string{"a", "b"} {
		var codes []string
		for code, k := range exits[n] {
			codes = append(codes, fmt.Sprintf("exit %d x%d", code, k))
		}
		sort.Strings(codes)
		fmt.Fprintf(w, "  %s: started %d, the job ran %d (%s)\n", n, started[n], ran[n], strings.Join(codes, ", "))
	}
	fmt.Fprintf(w, "  writer: %d acknowledged, %d lost; rows the copy deleted on a peer: %d\n", acked, len(lost), deleted)
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems[:min(10, len(problems))], "\n  "))
	}
	return nil
}
