package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The systemd unit's ExecStart must be a command line hacheck accepts and
// that stops cleanly (exit 0) on SIGTERM.
func TestSystemdUnitExecStart(t *testing.T) {
	unit, err := os.ReadFile("../../examples/systemd/hacheck.service")
	if err != nil {
		t.Fatal(err)
	}
	var argv []string
	for _, line := range strings.Split(string(unit), "\n") {
		if cmd, ok := strings.CutPrefix(line, "ExecStart="); ok {
			argv = strings.Fields(cmd)
		}
	}
	if len(argv) < 2 || filepath.Base(argv[0]) != "hacheck" || argv[1] != "serve" {
		t.Fatalf("ExecStart is not `hacheck serve ...`: %v", argv)
	}
	// Point --config at a test configuration, keep every other argument.
	n := newNode(t, "")
	args := argv[1:]
	for i := range args {
		if args[i] == "--config" && i+1 < len(args) {
			args[i+1] = n.config
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errOut bytes.Buffer
	go func() { done <- run(ctx, args, &out, &errOut) }()
	time.Sleep(200 * time.Millisecond)
	cancel() // as systemd's SIGTERM
	select {
	case code := <-done:
		if code != ExitOK {
			t.Fatalf("serve from the unit exited %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within the unit's TimeoutStopSec")
	}
}
