package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The man pages come from the command definitions: one per command, with
// its summary, and gen-man itself stays out of them and out of --help.
func TestGenMan(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1764547200") // 2025-12-01
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"gen-man", dir}, &out, &errOut); code != ExitOK {
		t.Fatalf("gen-man: exit %d: %s", code, errOut.String())
	}
	for _, cmd := range []string{"hacheck", "hacheck-check", "hacheck-serve", "hacheck-drain", "hacheck-undrain", "hacheck-status", "hacheck-notify", "hacheck-promote", "hacheck-follow", "hacheck-version"} {
		b, err := os.ReadFile(filepath.Join(dir, cmd+".8"))
		if err != nil {
			t.Errorf("no man page for %s: %v", cmd, err)
			continue
		}
		page := string(b)
		if !strings.Contains(page, `.TH "HACHECK" "8" "Dec 2025"`) || !strings.Contains(page, `.SH NAME`) {
			t.Errorf("%s.8 has no proper header:\n%.300s", cmd, page)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hacheck-gen-man.8")); err == nil {
		t.Error("the hidden gen-man command got a man page")
	}
	out.Reset()
	run(context.Background(), []string{"--help"}, &out, &errOut)
	if strings.Contains(out.String(), "gen-man") {
		t.Error("hacheck --help lists the hidden gen-man command")
	}
}
