package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
)

func TestVersion(t *testing.T) {
	line := regexp.MustCompile(`^hacheck \S+ \(commit \S+, built \S+, go\S+\)\n$`)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		if !line.MatchString(out.String()) {
			t.Errorf("%v printed %q, want %s", args, out.String(), line)
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"version", "extra"}, &out, &errOut); code != ExitUsage {
		t.Errorf("version extra: exit %d, want %d", code, ExitUsage)
	}
}
