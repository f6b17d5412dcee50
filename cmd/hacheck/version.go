package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hacheck/hacheck/internal/buildinfo"
)

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Long: `Print one line: the hacheck version, the commit it was built from, the build
date and the Go version it was built with; the same line as hacheck --version.
Exit codes: 0.`,
		Example: "  hacheck version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, buildinfo.Read())
			return nil
		},
	}
}
