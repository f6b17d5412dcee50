package main

import (
	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
)

// buildGaleraChecker opens the check's server with the node's MySQL
// timeouts and wraps it in check.Galera.
func buildGaleraChecker(c config.Check, cfg *config.Config) (check.Checker, error) {
	srv, err := cutover.Open(c.DSN, cfg)
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
