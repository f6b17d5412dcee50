package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command teaches: a one-line summary, a real example, its exit
// codes, and flags whose help renders without backtick artefacts (pflag
// takes a `word` in a usage string as the flag's value name).
func TestHelpTeaches(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard}
	root := a.rootCmd()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			if c.Short == "" || strings.Contains(c.Short, "\n") {
				t.Errorf("summary %q: want one line", c.Short)
			}
			if !strings.Contains(c.Example, "hacheck") {
				t.Errorf("no example")
			}
			if c.Name() != "version" && !strings.Contains(c.Long, "Exit 0") {
				t.Errorf("help does not list the exit codes")
			}
			checkFlags(t, c)
		})
	}
}

func checkFlags(t *testing.T, c *cobra.Command) {
	t.Helper()
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if strings.Contains(f.Usage, "`") {
			name, _ := pflag.UnquoteUsage(f)
			t.Errorf("--%s: a backtick in its help renders as the value name %q", f.Name, name)
		}
	})
}
