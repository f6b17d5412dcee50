package check

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := ln.Addr().String()
	if r := Run(context.Background(), &TCP{CheckName: "t", Address: open}, time.Second); !r.OK {
		t.Fatalf("open port: %+v", r)
	}
	ln.Close() // a closed listener: connection refused
	r := Run(context.Background(), &TCP{CheckName: "t", Address: open}, time.Second)
	if r.OK || !strings.Contains(r.Detail, "refused") {
		t.Fatalf("closed port: %+v", r)
	}
}

func TestHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := map[string]bool{"/ok": true, "/down": false, "/redirect": false, "/slow": false}
	for path, want := range cases {
		r := Run(context.Background(), &HTTP{CheckName: "h", URL: srv.URL + path}, 200*time.Millisecond)
		if r.OK != want {
			t.Errorf("%s: OK=%v want %v (%s)", path, r.OK, want, r.Detail)
		}
	}
}

func TestExec(t *testing.T) {
	cases := []struct {
		argv   []string
		ok     bool
		detail string
	}{
		{[]string{"/bin/sh", "-c", "echo fine"}, true, "fine"},
		{[]string{"/bin/sh", "-c", "echo broken; exit 3"}, false, "exit status 3: broken"},
		{[]string{"/bin/sh", "-c", "kill -TERM $$"}, false, "killed by signal"},
		{[]string{"/nonexistent/program"}, false, "no such file"},
		// A grandchild holding the output pipe must not keep the check alive.
		{[]string{"/bin/sh", "-c", "sleep 30 & sleep 30"}, false, "deadline"},
	}
	for _, c := range cases {
		start := time.Now()
		r := Run(context.Background(), &Exec{CheckName: "e", Command: c.argv}, 300*time.Millisecond)
		if r.OK != c.ok || !strings.Contains(r.Detail, c.detail) {
			t.Errorf("%v: got OK=%v %q, want OK=%v containing %q", c.argv, r.OK, r.Detail, c.ok, c.detail)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%v: took %s, far past its 300ms deadline", c.argv, took)
		}
	}
}

type stuck struct{}

func (stuck) Name() string { return "stuck" }
func (stuck) Check(ctx context.Context) Result {
	time.Sleep(2 * time.Second) // ignores ctx, as a buggy check might
	return Result{OK: true}
}

func TestRunFailsClosedOnIgnoredDeadline(t *testing.T) {
	r := Run(context.Background(), stuck{}, 50*time.Millisecond)
	if r.OK || r.Name != "stuck" {
		t.Fatalf("a check that ignored its deadline was reported %+v", r)
	}
	if r.Took > time.Second {
		t.Fatalf("Run waited %s for a stuck check", r.Took)
	}
}

func TestRunAllAndAllOK(t *testing.T) {
	rs := RunAll(context.Background(), []Checker{
		&Exec{CheckName: "a", Command: []string{"/bin/true"}},
		&Exec{CheckName: "b", Command: []string{"/bin/false"}},
	}, []time.Duration{time.Second, time.Second})
	if rs[0].Name != "a" || !rs[0].OK || rs[1].Name != "b" || rs[1].OK || AllOK(rs) {
		t.Fatalf("%+v", rs)
	}
	if !AllOK(nil) {
		t.Fatal("no checks should pass")
	}
}

func TestScriptPreconditions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("20-fails", "echo disk too full; exit 1", 0o755)
	write("10-passes", "echo all good", 0o755)
	write("30-hangs", "sleep 30", 0o755)
	write("40-also-fails", "exit 7", 0o755)
	write("README", "not a script", 0o644)
	write(".hidden", "exit 1", 0o755)
	ps, err := ScriptPreconditions(dir, []string{"HACHECK_NODE=a"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name())
	}
	if strings.Join(names, " ") != "10-passes 20-fails 30-hangs 40-also-fails" {
		t.Fatalf("order/selection: %v", names)
	}
	var out bytes.Buffer
	rs := RunPreconditions(context.Background(), ps, 300*time.Millisecond, &out)
	oks := [4]bool{rs[0].OK, rs[1].OK, rs[2].OK, rs[3].OK}
	if !oks[0] || oks[1] || oks[2] || oks[3] {
		t.Fatalf("verdicts %v: %+v", oks, rs)
	}
	for _, want := range []string{"10-passes: all good", "20-fails: disk too full", "30-hangs: FAILED", "40-also-fails: FAILED"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(rs[1].Detail, "disk too full") || !strings.Contains(rs[1].Detail, "exit status 1") {
		t.Errorf("detail %q", rs[1].Detail)
	}
}

func TestScriptPreconditionsMissingDir(t *testing.T) {
	if _, err := ScriptPreconditions("/nonexistent/dir", nil); err == nil {
		t.Fatal("a missing directory must be an error, not zero preconditions")
	}
}
