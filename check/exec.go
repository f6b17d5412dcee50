package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Exec passes when Command exits 0. The command runs in its own process
// group, which is killed as a whole when the deadline passes, so a stuck
// grandchild cannot keep the check alive.
type Exec struct {
	CheckName string
	Command   []string
	Env       []string // added to hacheck's environment
}

var _ Checker = (*Exec)(nil)

func (c *Exec) Name() string { return c.CheckName }

func (c *Exec) Check(ctx context.Context) Result {
	out, err := RunCommand(ctx, c.Command, c.Env, nil)
	detail := lastLine(out)
	if err != nil {
		if detail != "" {
			return Result{Detail: fmt.Sprintf("%v: %s", err, detail)}
		}
		return Result{Detail: err.Error()}
	}
	if detail == "" {
		detail = "exit 0"
	}
	return Result{OK: true, Detail: detail}
}

// outputLimit caps what is kept of a command's output.
const outputLimit = 64 << 10

// RunCommand runs argv until it exits or ctx ends, and returns its combined
// output (up to 64 KiB kept). When live is not nil the output is also
// copied there as it arrives. The error says how the command failed: exit
// status, signal, or the deadline.
func RunCommand(ctx context.Context, argv []string, env []string, live io.Writer) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("no command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 500 * time.Millisecond // don't wait forever on pipes held by orphans
	if len(env) > 0 {
		cmd.Env = append(cmd.Environ(), env...)
	}
	var buf limitedBuffer
	var w io.Writer = &buf
	if live != nil {
		w = io.MultiWriter(&buf, live)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	out := buf.String()
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s: no result before the deadline (%v)", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return out, fmt.Errorf("%s: killed by signal %v", argv[0], ws.Signal())
		}
		return out, fmt.Errorf("%s: exit status %d", argv[0], ee.ExitCode())
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w", argv[0], err)
	}
	return out, nil
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := outputLimit - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
