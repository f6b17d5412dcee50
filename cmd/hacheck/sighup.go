package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// ignoreHUP keeps SIGHUP from killing serve (its default action, exit
// 129) until ctx ends. serve does not reload its configuration: a
// configuration swapped under a running health endpoint would change the
// listen address, the checks and the admin API in one step, so a new
// configuration takes a restart, and each SIGHUP says so in the log.
func ignoreHUP(ctx context.Context, log *slog.Logger) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				log.Warn("SIGHUP ignored: serve does not reload its configuration; restart it to apply a change (systemctl restart hacheck)")
			}
		}
	}()
}
