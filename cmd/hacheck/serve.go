package main

import (
	"github.com/spf13/cobra"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "HTTP for load balancers and monitoring: /healthz, /primary, /replica, /status, /metrics, admin API, HAProxy agent",
		Long: `Serve GET/HEAD /healthz (200 "true" or 503 "false", the same verdict as
` + "`hacheck check`" + `) and GET /status (JSON) on the listen address. Live checks run
in the background on their own intervals; answers come from memory. serve also
keeps keepalived.track consistent with state.json. At start it reads
keepalived.config and warns when the node that takes over would wait more than
50 ms (priority too low), on priority 255 or without nopreempt. SIGTERM or
SIGINT stops it gracefully; stopping never changes the state. SIGHUP is logged
and ignored: a changed configuration takes a restart. GET/HEAD /primary and
/replica answer the database role as read every second; /metrics is
Prometheus; the admin API (POST /v1/drain, /v1/undrain) and the HAProxy agent
run when configured. With mysql.dsn, serve also retries a refused promotion and
lets a stale ex-primary follow the new primary.
Exit 0: stopped by SIGTERM/SIGINT. Exit 1: could not serve (port in use, state
directory unwatchable). Exit 2: usage or configuration error.`,
		Example: `  hacheck serve --config /etc/hacheck/hacheck.yaml
  curl -s localhost:8530/healthz; curl -s localhost:8530/status`,
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
			ignoreHUP(c.Context(), n.Log())
			if err := srv.Run(c.Context(), nil); err != nil {
				return failErr("%v", err)
			}
			return nil
		},
	}
}
