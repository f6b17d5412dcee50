package node

import (
	"context"
	"fmt"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/db"
)

// A Galera node is one with a check of type galera (config.Galera.DSN is
// the first one's server): its drain needs other Synced members, and its
// undrain waits until it is Synced again.

// galeraCheck builds a check of type galera on the check's server.
func (n *Node) galeraCheck(c config.Check) (check.Checker, error) {
	srv, err := n.open(c.DSN)
	if err != nil {
		return nil, err
	}
	return &check.Galera{
		CheckName: c.Name,
		DB:        srv,
		Server:    srv.String(),
		Policy:    check.GaleraPolicy{DonorOK: c.DonorOK, ReadOnlyOK: c.ReadOnlyOK},
	}, nil
}

// galeraPrecondition is the drain precondition of a Galera node (see
// check.GaleraDrain); nil on any other node. The other members are reached
// with the same DSN, its address replaced by theirs.
func (n *Node) galeraPrecondition() (check.Precondition, error) {
	if !n.cfg.Galera.DSN.IsSet() {
		return nil, nil
	}
	local, err := n.open(n.cfg.Galera.DSN)
	if err != nil {
		return nil, fmt.Errorf("galera check dsn: %w", err)
	}
	return &check.GaleraDrain{
		Local: local,
		Min:   n.cfg.Galera.MinSyncedOthers,
		Open: func(addr string) (check.RowQuerier, func(), error) {
			drv := n.cfg.Galera.DSN.Driver()
			drv.Addr = addr
			srv, err := db.OpenConfig(drv, n.dbOptions(drv))
			if err != nil {
				return nil, nil, err
			}
			return srv, func() { srv.Close() }, nil
		},
	}, nil
}

// galeraReadyToUndrain refuses an undrain of a Galera node that is not
// Synced in the Primary component, ready and not desynced: a node let back
// into the load balancer before it has resynced serves stale reads (or,
// as a donor with rsync, blocks writes).
func (n *Node) galeraReadyToUndrain(ctx context.Context) error {
	srv, err := n.open(n.cfg.Galera.DSN)
	if err != nil {
		return fmt.Errorf("galera check dsn: %w", err)
	}
	qctx, cancel := context.WithTimeout(ctx, n.cfg.MySQL.QueryTimeout)
	defer cancel()
	f, err := check.ReadGaleraFacts(qctx, srv)
	if err != nil {
		return fmt.Errorf("read this node's galera state (%s): %v", srv, err)
	}
	// Synced only: no donor_ok here, whatever the check allows.
	if ok, why := check.GaleraVerdict(f, check.GaleraPolicy{ReadOnlyOK: true}); !ok {
		return fmt.Errorf("this Galera node is not Synced yet: %s; wait until `hacheck status` shows it Synced, then undrain again (or `hacheck undrain --force`)", why)
	}
	return nil
}
