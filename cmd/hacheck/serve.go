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
keeps keepalived.track consistent with state.json. SIGTERM or SIGINT stops it
gracefully; stopping never changes the state. SIGHUP is logged and ignored:
a changed configuration takes a restart.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, n, err := a.node()
			if err != nil {
				return err
			}
			defer n.Close()
			srv, err := n.Server()
			if err != nil {
				return usageErr("%v", err)
			}
			ignoreHUP(c.Context(), n.Log())
			if err := srv.Run(c.Context(), nil); err != nil {
				return failErr("%v", err)
			}
			return nil
		},
	}
}
