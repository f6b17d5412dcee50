package main

import (
	"context"
	"errors"
	"fmt"

	"time"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
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
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := a.load()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), cfg.Drain.Timeout)
			defer cancel()
			return a.follow(ctx, cfg, 0)
		},
	}
}

// follow runs cutover.Follow; with retry > 0 it retries while the peer is
// not promoted yet, every retry, until ctx ends.
func (a *app) follow(ctx context.Context, cfg *config.Config, retry time.Duration) error {
	if cfg.Peer.MySQLDSN == "" || cfg.Replication.User == "" {
		return usageErr("follow needs peer.mysql_dsn and replication.user (and replication.password) in the configuration")
	}
	host, port, err := cutover.PeerAddress(cfg.Peer.MySQLDSN)
	if err != nil {
		return usageErr("peer.mysql_dsn: %v", err)
	}
	pair, err := cutover.OpenPair(cfg)
	if err != nil {
		return usageErr("%v", err)
	}
	defer pair.Close()
	opt := cutover.FollowOptions{Host: host, Port: port, User: cfg.Replication.User, Password: cfg.Replication.Password, Wait: cfg.Drain.CatchupTimeout}
	for {
		err = cutover.Follow(ctx, pair.Local, pair.Peer, opt, a.stdout)
		if err == nil {
			return nil
		}
		if retry <= 0 || !errors.Is(err, cutover.ErrPeerNotPrimary) || ctx.Err() != nil {
			return failErr("follow: %v", err)
		}
		fmt.Fprintf(a.stdout, "waiting for the peer to be promoted: %v\n", err)
		select {
		case <-ctx.Done():
			return failErr("follow: %v (gave up: %v)", err, ctx.Err())
		case <-time.After(retry):
		}
	}
}
