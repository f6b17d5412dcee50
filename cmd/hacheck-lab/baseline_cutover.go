package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
)

// upBaselineLab builds the MariaDB pair under the baseline keepalived
// configuration (polled shell script, no notify) and makes A's server
// writable by hand once A holds the VIP.
func upBaselineLab(ctx context.Context, l *lab.Lab) (map[*lab.Node]*dbNode, error) {
	dbs, err := startMariaDB(ctx, l)
	if err != nil {
		return dbs, err
	}
	if err := installBaseline(l); err != nil {
		return dbs, err
	}
	if err := l.StartPair(ctx, 1500*time.Millisecond); err != nil {
		return dbs, err
	}
	if _, err := dbs[l.A].db.ExecContext(ctx, "SET GLOBAL read_only=OFF"); err != nil {
		return dbs, fmt.Errorf("make a writable: %w", err)
	}
	return dbs, nil
}

// baselineCutover is the usual runbook, by hand-written SQL: fence the old
// primary, wait for the replica to apply its GTID position, flip the health
// flag, wait for the VIP, promote the new primary, make the old one follow
// it, flip its flag back.
func baselineCutover(ctx context.Context, l *lab.Lab, dbs map[*lab.Node]*dbNode, mon *lab.VIPMonitor, w *writer, from, to *lab.Node) (cutoverResult, error) {
	r := cutoverResult{from: from, to: to}
	add := func(what string) { r.timeline = append(r.timeline, event{time.Now(), what}) }
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	old, nw := dbs[from].db, dbs[to].db
	r.start = time.Now()
	if _, err := old.ExecContext(wctx, "SET GLOBAL read_only=ON"); err != nil {
		return r, fmt.Errorf("fence %s: %w", from.Name, err)
	}
	fenceAt := time.Now() // no write is acknowledged by the old primary after this
	add("fence")
	var pos string
	if err := old.QueryRowContext(wctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return r, fmt.Errorf("position of %s: %w", from.Name, err)
	}
	var res int
	if err := nw.QueryRowContext(wctx, "SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&res); err != nil || res != 0 {
		return r, fmt.Errorf("catch-up of %s to %q: result %d, %v", to.Name, pos, res, err)
	}
	add("catch-up reached")
	if err := setFlag(from, false); err != nil {
		return r, err
	}
	add("flip")
	if _, err := mon.WaitHolder(wctx, to); err != nil {
		return r, err
	}
	added := mon.AddedSince(to, r.start)
	if len(added) == 0 {
		return r, fmt.Errorf("no VIP event on %s", to.Name)
	}
	r.vipMove = added[0].Sub(r.start)
	r.timeline = append(r.timeline, event{added[0], "VIP moved"})
	for _, q := range []string{"STOP SLAVE", "SET GLOBAL read_only=OFF"} {
		if _, err := nw.ExecContext(wctx, q); err != nil {
			return r, fmt.Errorf("promote %s: %s: %w", to.Name, q, err)
		}
	}
	add("promoted")
	for {
		if a, ok := firstAfter(w.snapshot(), fenceAt); ok {
			if b, ok := lastBefore(w.snapshot(), fenceAt); ok {
				r.blocked = a.at.Sub(b.at)
			}
			break
		}
		if err := sleepCtx(wctx, 10*time.Millisecond); err != nil {
			return r, fmt.Errorf("no write acknowledged after the cutover")
		}
	}
	// The old primary follows the new one.
	for _, q := range []string{
		"STOP SLAVE",
		"SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			to.Addr.Addr(), mysqlPort, mariadbd.ReplUser, mariadbd.ReplPassword),
		"START SLAVE",
	} {
		if _, err := old.ExecContext(wctx, q); err != nil {
			return r, fmt.Errorf("make %s follow %s: %s: %w", from.Name, to.Name, q, err)
		}
	}
	off := lab.LogSize(from.KeepalivedLog)
	if err := setFlag(from, true); err != nil {
		return r, err
	}
	if _, err := lab.WaitForLog(wctx, from.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		return r, err
	}
	sort.Slice(r.timeline, func(i, j int) bool { return r.timeline[i].at.Before(r.timeline[j].at) })
	return r, nil
}
