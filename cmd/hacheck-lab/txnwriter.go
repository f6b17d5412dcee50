package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/txnload"
)

// txnConfig is the transactional workload that runs beside the insert
// writer (internal/txnload): clients running multi-statement transactions
// on hot rows through the VIP, reconnecting on error. It is what makes a
// fence wait for running writes; the insert writer alone never does.
type txnConfig struct {
	threads int // 0: off
	tables  int
	rows    int
}

// registerTxnFlags adds the workload's flags to fs.
func registerTxnFlags(fs *flag.FlagSet) *txnConfig {
	var c txnConfig
	fs.IntVar(&c.threads, "txn-threads", 0, "clients of the transactional workload beside the insert writer (several UPDATE/DELETE/INSERT per transaction on hot rows); 0 runs none")
	fs.IntVar(&c.tables, "txn-tables", 4, "tables of the transactional workload")
	fs.IntVar(&c.rows, "txn-rows", 200, "rows per table of the transactional workload")
	return &c
}

func (c txnConfig) String() string {
	return fmt.Sprintf("%d clients, each transaction 2 UPDATE + DELETE + INSERT on hot rows of %d tables of %d rows + a ledger INSERT", c.threads, c.tables, c.rows)
}

// startTxnLoad creates the workload's tables on primary and starts its
// clients in the client namespace, through the VIP.
func startTxnLoad(ctx context.Context, l *lab.Lab, primary *dbNode, tc txnConfig, connectTimeout time.Duration) (*txnload.Load, txnload.Config, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = appUser, appPass, clientNet(l), fmt.Sprintf("%s:%d", lab.VIP.Addr(), mysqlPort)
	c.Timeout = connectTimeout
	c.ReadTimeout, c.WriteTimeout = time.Second, time.Second
	lc := txnload.Config{DSN: c.FormatDSN(), Threads: tc.threads, Tables: tc.tables, Rows: tc.rows}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := txnload.Setup(sctx, primary.db, lc); err != nil {
		return nil, lc, err
	}
	load, err := txnload.Start(lc)
	return load, lc, err
}

// verifyTxnLoad stops the workload, checks that every acknowledged commit
// is in the ledger of the new primary, waits until the old primary (which
// now follows) has applied everything, and compares CHECKSUM TABLE of
// every table on both. It prints the verdict; the error lists what failed.
func verifyTxnLoad(ctx context.Context, out io.Writer, load *txnload.Load, lc txnload.Config, newPrimary, oldPrimary *dbNode) error {
	st := load.Stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	lost, rows, err := txnload.Lost(ctx, newPrimary.db, lc.Database, st.Acked)
	if err != nil {
		return err
	}
	var pos string
	if err := newPrimary.db.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("read gtid position of %s: %w", newPrimary.node.Name, err)
	}
	var waited int
	if err := oldPrimary.db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 20)", pos).Scan(&waited); err != nil || waited != 0 {
		return fmt.Errorf("%s did not apply %s of %s within 20 s (MASTER_GTID_WAIT %d, %v)", oldPrimary.node.Name, pos, newPrimary.node.Name, waited, err)
	}
	a, err := txnload.Checksums(ctx, newPrimary.db, lc)
	if err != nil {
		return err
	}
	b, err := txnload.Checksums(ctx, oldPrimary.db, lc)
	if err != nil {
		return err
	}
	diff := txnload.DiffChecksums(a, b)
	fmt.Fprintf(out, "  transactions acknowledged:              %d (%d failed or rolled back; errors by number %v)\n", len(st.Acked), st.Failed, st.Errors)
	fmt.Fprintf(out, "  transactions lost:                      %d (acknowledged ledger ids missing on %s, which has %d)\n", len(lost), newPrimary.node.Name, rows)
	fmt.Fprintf(out, "  %-40s%d of %d (CHECKSUM TABLE of every table, once %s caught up)\n", fmt.Sprintf("tables differing on %s and %s:", newPrimary.node.Name, oldPrimary.node.Name), len(diff), len(a), oldPrimary.node.Name)
	if len(lost) > 0 || len(diff) > 0 {
		return fmt.Errorf("FAILED: %d acknowledged transactions lost (first ids %v), tables differ: %v", len(lost), lost[:min(len(lost), 10)], diff)
	}
	return nil
}
