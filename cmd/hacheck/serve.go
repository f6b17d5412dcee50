package main

import (
	"github.com/spf13/cobra"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "HTTP endpoint for load balancers: /healthz, /status",
		Long: `Serve GET/HEAD /healthz (200 "true" or 503 "false", the same verdict as
` + "`hacheck check`" + `) and GET /status (JSON) on the listen address. Live checks run
in the background on their own intervals; answers come from memory. serve also
keeps keepalived.track consistent with state.json. At start it reads
keepalived.config and warns when the node that takes over would wait more than
50 ms (priority too low), on priority 255 or without nopreempt. SIGTERM or
SIGINT stops it gracefully; stopping never changes the state.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			n.WarnKeepalived()
			srv, err := n.Server()
			if err != nil {
				return usageErr("%v", err)
			}
			if err := srv.Run(c.Context(), nil); err != nil {
				return failErr("%v", err)
			}
			return nil
		},
	}
}
