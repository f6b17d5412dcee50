package check

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Precondition is one condition `hacheck drain` verifies before it changes
// anything. Run writes what it does to out (shown to the operator) and
// returns its verdict; it must return within ctx's deadline.
type Precondition interface {
	Name() string
	Run(ctx context.Context, out io.Writer) Result
}

// ScriptPrecondition runs one executable from the preconditions directory.
// It passes on exit 0. Its output is shown line by line, prefixed with its
// name.
type ScriptPrecondition struct {
	Path string
	Env  []string
}

var _ Precondition = (*ScriptPrecondition)(nil)

func (p *ScriptPrecondition) Name() string { return filepath.Base(p.Path) }

func (p *ScriptPrecondition) Run(ctx context.Context, out io.Writer) Result {
	pw := &prefixWriter{w: out, prefix: "  " + p.Name() + ": "}
	text, err := RunCommand(ctx, []string{p.Path}, p.Env, pw)
	pw.flush()
	line := lastLine(text)
	switch {
	case err != nil && line != "":
		return Result{Detail: fmt.Sprintf("%s (%v)", line, err)}
	case err != nil:
		return Result{Detail: err.Error()}
	case line != "":
		return Result{OK: true, Detail: line}
	}
	return Result{OK: true, Detail: "exit 0"}
}

// ScriptPreconditions lists the executables in dir in lexical order. Hidden
// files, directories and files without an execute bit are skipped (the
// usual run-parts convention, so a README or a disabled script can sit
// there). A dir of "" gives none.
func ScriptPreconditions(dir string, env []string) ([]Precondition, error) {
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read preconditions directory: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	out := make([]Precondition, len(names))
	for i, n := range names {
		out[i] = &ScriptPrecondition{Path: filepath.Join(dir, n), Env: env}
	}
	return out, nil
}

// RunPreconditions runs each precondition in order, each with its own
// timeout, and returns every result: a refused drain lists every failure,
// not just the first.
func RunPreconditions(ctx context.Context, ps []Precondition, timeout time.Duration, out io.Writer) []Result {
	results := make([]Result, 0, len(ps))
	for _, p := range ps {
		fmt.Fprintf(out, "precondition %s: running\n", p.Name())
		pctx, cancel := context.WithTimeout(ctx, timeout)
		start := time.Now()
		r := p.Run(pctx, out)
		if r.OK && pctx.Err() != nil {
			r = Result{Detail: fmt.Sprintf("no result within %s", timeout)}
		}
		cancel()
		r.Name, r.Took, r.At = p.Name(), time.Since(start), start
		verdict := "passed"
		if !r.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(out, "precondition %s: %s in %s: %s\n", p.Name(), verdict, roundDur(r.Took), r.Detail)
		results = append(results, r)
	}
	return results
}

// prefixWriter writes complete lines to w, each with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
}
