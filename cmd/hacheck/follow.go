package main

import (
	"context"
	"errors"

	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/node"
)

func (a *app) followCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "follow",
		Short: "Make this (read-only, old primary) server a GTID replica of the peer's",
		Long: `After a drain has moved the primary to the peer, make this node's server
replicate from the peer's (peer.mysql_dsn's address, replication.user and
replication.password), GTID-based, so that a later drain on the peer moves
everything back with nothing lost. Refused when this server is writable, when
the peer is still read-only (not promoted yet), or when this server has
transactions the peer lacks.
Exit 0: following. Exit 1: refused or failed. Exit 2: usage or configuration error.`,
		Example: `  hacheck follow`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(c.Context(), cfg.Drain.Timeout)
			defer cancel()
			return a.follow(ctx, n, 0)
		},
	}
}

// follow runs node.Follow; with retry > 0 it retries while the peer is not
// promoted yet, every retry, until ctx ends.
func (a *app) follow(ctx context.Context, n *node.Node, retry time.Duration) error {
	err := n.Follow(ctx, retry, a.stdout)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, node.ErrFollowConfig):
		return usageErr("%v", err)
	}
	return failErr("follow: %v", err)
}
