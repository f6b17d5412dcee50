package main

import (
	"time"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/health"
)

func init() {
	health.MySQLChecker = cutover.BuildChecker
	health.GaleraChecker = buildGaleraChecker
	health.AutoCheckers = cutover.AutoCheckers
	health.MySQLStatusLoader = cutover.StatusLoader
}

// notifyBudget bounds one notify or promote: the lock wait for a previous
// one, then asking the old primary, fencing it if needed, the catch-up
// wait and the local changes.
func notifyBudget(cfg *config.Config) time.Duration {
	work := cfg.Peer.Timeout + cfg.MySQL.FenceTimeout + cfg.Drain.CatchupTimeout + 4*cfg.MySQL.QueryTimeout + 2*time.Second
	return 2 * work
}
