package main

import (
	"context"
	"fmt"
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
func baselineCutover(ctx context.Context, l *lab.Lab, dbs map[*lab.Node]*dbNode, obs *observers, w *writer, from, to *lab.Node) (cutoverResult, error) {
	r := cutoverResult{from: from, to: to}
	add := func(ms string) { r.addMilestone(time.Now(), ms, ms) }
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	old, nw := dbs[from].db, dbs[to].db
	r.start = time.Now()
	if _, err := old.ExecContext(wctx, "SET GLOBAL read_only=ON"); err != nil {
		return r, fmt.Errorf("fence %s: %w", from.Name, err)
	}
	fenceAt := time.Now() // no write is acknowledged by the old primary after this
	add(msFence)
	var pos string
	if err := old.QueryRowContext(wctx, "SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		return r, fmt.Errorf("position of %s: %w", from.Name, err)
	}
	var res int
	if err := nw.QueryRowContext(wctx, "SELECT MASTER_GTID_WAIT(?, 10)", pos).Scan(&res); err != nil || res != 0 {
		return r, fmt.Errorf("catch-up of %s to %q: result %d, %v", to.Name, pos, res, err)
	}
	add(msCatchUp)
	if err := setFlag(from, false); err != nil {
		return r, err
	}
	add(msFlip)
	if err := waitVIP(wctx, obs, &r); err != nil {
		return r, err
	}
	for _, q := range []string{"STOP SLAVE", "SET GLOBAL read_only=OFF"} {
		if _, err := nw.ExecContext(wctx, q); err != nil {
			return r, fmt.Errorf("promote %s: %s: %w", to.Name, q, err)
		}
	}
	add(msPromoted)
	if err := waitFirstWrite(wctx, w, &r, fenceAt); err != nil {
		return r, err
	}
	obs.addNetwork(&r)
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
	r.sortTimeline()
	return r, nil
}
