package drain

import (
	"context"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
)

// addGalera adds the Galera drain precondition (check.GaleraDrain) when
// this is a Galera node (cfg.Galera.DSN, from its galera check). The other
// members are reached with the same DSN, its address replaced by theirs.
func addGalera(cfg *config.Config, plan *Plan) error {
	if cfg.Galera.DSN == "" {
		return nil
	}
	local, err := cutover.Open(cfg.Galera.DSN, cfg)
	if err != nil {
		return fmt.Errorf("galera check dsn: %w", err)
	}
	plan.closers = append(plan.closers, local)
	plan.Preconditions = append(plan.Preconditions, &check.GaleraDrain{
		Local: local,
		Min:   cfg.Galera.MinSyncedOthers,
		Open: func(addr string) (check.RowQuerier, func(), error) {
			srv, err := openMember(cfg, addr)
			if err != nil {
				return nil, nil, err
			}
			return srv, func() { srv.Close() }, nil
		},
	})
	return nil
}

// openMember opens the galera DSN with its address replaced by addr.
func openMember(cfg *config.Config, addr string) (interface {
	check.RowQuerier
	Close() error
}, error) {
	c, err := mysql.ParseDSN(cfg.Galera.DSN)
	if err != nil {
		return nil, fmt.Errorf("galera check dsn: %w", err)
	}
	c.Addr = addr
	return cutover.Open(c.FormatDSN(), cfg)
}

// galeraReadyToUndrain refuses an undrain of a Galera node that is not
// Synced in the Primary component, ready and not desynced: a node let back
// into the load balancer before it has resynced serves stale reads (or,
// as a donor with rsync, blocks writes).
func galeraReadyToUndrain(ctx context.Context, cfg *config.Config) error {
	if cfg.Galera.DSN == "" {
		return nil
	}
	srv, err := cutover.Open(cfg.Galera.DSN, cfg)
	if err != nil {
		return fmt.Errorf("galera check dsn: %w", err)
	}
	defer srv.Close()
	qctx, cancel := context.WithTimeout(ctx, cfg.MySQL.QueryTimeout)
	defer cancel()
	f, err := check.ReadGaleraFacts(qctx, srv)
	if err != nil {
		return fmt.Errorf("read this node's galera state (%s): %v", srv, err)
	}
	// Synced only: no donor_ok here, whatever the check allows.
	if ok, why := check.GaleraVerdict(f, check.GaleraPolicy{ReadOnlyOK: true}); !ok {
		return fmt.Errorf("this Galera node is not Synced yet: %s; wait until `hacheck status` shows it Synced, then undrain again", why)
	}
	return nil
}
