package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/hacheck/hacheck/internal/buildinfo"
)

// genManCmd writes the man pages of every command, from the same command
// definitions as --help. Hidden: only scripts/package.sh runs it.
func (a *app) genManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-man DIR",
		Short:  "Write the man pages (section 8) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			// SOURCE_DATE_EPOCH keeps the pages reproducible.
			date := time.Now()
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageErr("SOURCE_DATE_EPOCH=%q is not a Unix time", s)
				}
				date = time.Unix(sec, 0).UTC()
			}
			hdr := &doc.GenManHeader{
				Title:   "HACHECK",
				Section: "8",
				Date:    &date,
				Source:  "hacheck " + buildinfo.Read().Version,
				Manual:  "System Administration",
			}
			root := c.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return failErr("write man pages to %s: %v", args[0], err)
			}
			fmt.Fprintf(a.stdout, "man pages written to %s\n", args[0])
			return nil
		},
	}
}
