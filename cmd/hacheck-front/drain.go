package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hacheck/hacheck/internal/clidrain"
	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// drainInServe runs `hacheck drain ARGS` in serve (internal/clidrain) when
// it can: the flags are ones it knows, no HACHECK_* variable overrides the
// configuration, the configuration enables the admin socket, and serve
// takes the drain. ok is false otherwise, before anything was asked of
// serve or after serve said it did not take it: the full program then
// runs the drain in this process, as without serve.
func drainInServe(args, environ []string, stdout, stderr io.Writer) (code int, ok bool) {
	req, file, ok := drainRequest(args)
	if !ok || overridden(environ) {
		return 0, false
	}
	if file == "" {
		file = statecheck.DefaultFile
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return 0, false
	}
	socket, ok := adminSocket(abs)
	if !ok {
		return 0, false
	}
	req.Config, req.By = abs, state.Actor()
	// Ctrl-C or SIGTERM: serve is told and interrupts the drain, and its
	// last lines (the undo) and exit code are still shown, as the CLI's own
	// drain shows them; a second signal ends this process at once. The
	// handler is installed beside the dial: it starts the runtime's signal
	// thread (0.4-0.8 ms here). A signal before it ends this process, which
	// serve treats as it treats kill -9: the drain is interrupted.
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig) // serve did not take it: the full program's own handling
		select {
		case <-sig:
			interrupt()
		case <-ctx.Done():
		}
	}()
	r := clidrain.Run(ctx, socket, req, stdout, stderr)
	switch {
	case r.Taken:
		return r.Code, true
	case r.Fail:
		fmt.Fprintln(stderr, "hacheck: "+r.Why)
		return exitcode.Fail, true
	}
	return 0, false
}

// drainRequest reads drain's flags; ok is false for anything else (--help,
// an argument, a flag it does not know, a value the full program would
// refuse), which the full program then reads and, if need be, refuses.
func drainRequest(args []string) (req clidrain.Request, config string, ok bool) {
	strs := map[string]*string{"--config": &config, "--reason": &req.Reason, "--to": &req.To, "--timeout": &req.Timeout}
	bools := map[string]*bool{"--dry-run": &req.DryRun, "--force": &req.Force, "--follow": &req.Follow, "--keep-fenced": &req.KeepFenced}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(args[i], "=")
		if seen[name] {
			return req, "", false // the full program says what the last one means
		}
		seen[name] = true
		if p, ok := bools[name]; ok {
			if !hasValue {
				*p = true
				continue
			}
			b, err := strconv.ParseBool(value)
			if err != nil {
				return req, "", false
			}
			*p = b
			continue
		}
		p, ok := strs[name]
		if !ok {
			return req, "", false
		}
		if !hasValue {
			if i+1 == len(args) {
				return req, "", false
			}
			i++
			value = args[i]
		}
		*p = value
	}
	if seen["--timeout"] {
		if d, err := time.ParseDuration(req.Timeout); err != nil || d <= 0 {
			return req, "", false // the full program says what is wrong
		}
	}
	return req, config, true
}

// overridden: a HACHECK_* variable is set. serve runs with its own
// environment, so such a drain runs in this process, as asked.
func overridden(environ []string) bool {
	for _, e := range environ {
		if strings.HasPrefix(e, statecheck.EnvPrefix) {
			return true
		}
	}
	return false
}

// adminSocket reads admin.enabled and admin.socket from the configuration
// file, in the two spellings the examples use: a block
//
//	admin:
//	  enabled: true
//	  socket: /run/hacheck/admin.sock
//
// or the flow form admin: {enabled: true, socket: /run/hacheck/admin.sock}.
// ok is false when the socket is not enabled or the file says it in any
// other way; the full program then runs the drain itself. (It links no
// YAML library: the front's start is keepalived's cost every second. A
// socket read wrongly is still safe: serve runs only a drain of its own
// configuration file.)
func adminSocket(file string) (socket string, ok bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false
	}
	var block []string
	found := false
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \r")
		if line == "" || line[0] == '#' || line[0] == ' ' || line == "---" {
			continue
		}
		key, rest, ok := strings.Cut(line, ":")
		if !ok || key != "admin" {
			continue
		}
		if found {
			return "", false // YAML: "mapping key already defined"
		}
		found = true
		rest = stripComment(rest)
		if strings.HasPrefix(rest, "{") && strings.HasSuffix(rest, "}") {
			block = strings.Split(rest[1:len(rest)-1], ",")
			continue
		}
		if rest != "" {
			return "", false
		}
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.TrimSpace(lines[i+1]) == "" || strings.HasPrefix(lines[i+1], "#")) {
			i++
			block = append(block, lines[i])
		}
	}
	values := map[string]string{}
	for _, kv := range block {
		kv = stripComment(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return "", false
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := values[k]; dup {
			return "", false
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if strings.ContainsAny(v, "{}[]&*!|>'\"%@`") {
			return "", false
		}
		values[k] = v
	}
	if !strings.EqualFold(values["enabled"], "true") || !filepath.IsAbs(values["socket"]) {
		return "", false
	}
	return values["socket"], true
}

// stripComment drops a " #..." comment and the spaces around a value.
func stripComment(s string) string {
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
