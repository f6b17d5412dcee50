package server

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/clidrain"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/state"
)

// startCLIDrain runs a server with the admin socket, a configuration file
// and one precondition script (name, its body, the precondition timeout),
// with the state up, and returns the socket, the file and the store.
func startCLIDrain(t *testing.T, script, body string, timeout time.Duration) (sock, config string, st state.Store) {
	t.Helper()
	cfg := testConfig(t)
	pre := t.TempDir()
	os.WriteFile(filepath.Join(pre, script), []byte("#!/bin/sh\n"+body+"\n"), 0o755)
	cfg.PreconditionsDir, cfg.PreconditionTimeout = pre, timeout
	st = state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	cfg.Drain.Timeout = 5 * time.Second
	dir := t.TempDir()
	sock, config = filepath.Join(dir, "admin.sock"), filepath.Join(dir, "hacheck.yaml")
	os.WriteFile(config, []byte("node: n1\n"), 0o644)
	cfg.Admin = Admin{Enabled: true, Socket: sock}
	opt := cfg.options(nil)
	opt.ConfigFile = config
	startWith(t, opt)
	return sock, config, st
}

// The CLI's drain, run by serve through the real client: the output and
// the exit code come back, the state is drained, recorded as the CLI's.
func TestCLIDrainThroughServe(t *testing.T) {
	sock, config, st := startCLIDrain(t, "10-ok", "echo fine", 2*time.Second)

	var out, errOut bytes.Buffer
	r := clidrain.Run(context.Background(), sock, clidrain.Request{Config: config, By: "alice@a", Reason: "kernel"}, &out, &errOut)
	if !r.Taken || r.Code != 0 || errOut.Len() != 0 {
		t.Fatalf("%+v, stderr %q", r, errOut.String())
	}
	if !strings.Contains(out.String(), "precondition 10-ok: passed") || !strings.Contains(out.String(), "drained (generation 2)") {
		t.Fatalf("output %q", out.String())
	}
	s, _ := st.Load()
	if s.State != state.Drained || s.ChangedBy != "alice@a" || s.Via != "cli" || !strings.HasPrefix(s.From, "unix:") {
		t.Fatalf("state %+v", s)
	}

	// Another configuration file: not taken, nothing changed.
	st.Set(state.Change{To: state.Up})
	r = clidrain.Run(context.Background(), sock, clidrain.Request{Config: "/tmp/other.yaml", By: "alice@a"}, &out, &errOut)
	if r.Taken || r.Fail || !strings.Contains(r.Why, "this serve runs "+config+", the CLI read /tmp/other.yaml") {
		t.Fatalf("other config: %+v", r)
	}
	// The file edited since serve loaded it: serve would drain with the old.
	os.WriteFile(config, []byte("node: n1\ndrain: {timeout: 1s}\n"), 0o644)
	r = clidrain.Run(context.Background(), sock, clidrain.Request{Config: config, By: "alice@a"}, &out, &errOut)
	if r.Taken || r.Fail || !strings.Contains(r.Why, "changed since serve loaded it") {
		t.Fatalf("edited config: %+v", r)
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatal("a refused CLI drain changed the state")
	}

	// Nothing listening: not taken, the CLI drains itself.
	r = clidrain.Run(context.Background(), filepath.Join(t.TempDir(), "none.sock"), clidrain.Request{}, &out, &errOut)
	if r.Taken || r.Fail || !strings.Contains(r.Why, "no serve on admin.socket") {
		t.Fatalf("no socket: %+v", r)
	}
}

// A refused drain comes back as exit 1 with the reason on stderr.
func TestCLIDrainRefusedExit(t *testing.T) {
	sock, config, st := startCLIDrain(t, "10-no", "echo replica behind; exit 1", 2*time.Second)
	var out, errOut bytes.Buffer
	r := clidrain.Run(context.Background(), sock, clidrain.Request{Config: config}, &out, &errOut)
	if !r.Taken || r.Code != 1 || !strings.Contains(errOut.String(), "hacheck: ") || !strings.Contains(out.String(), "replica behind") {
		t.Fatalf("%+v out %q err %q", r, out.String(), errOut.String())
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatal("refused")
	}
}

// The CLI interrupted (its context ends: Ctrl-C) tells serve, which
// interrupts the drain: refused, nothing changed (kill -9 closes the
// socket, the same for serve: TestInstalled in cmd/hacheck-front).
func TestCLIDrainClientGoneInterrupts(t *testing.T) {
	sock, config, st := startCLIDrain(t, "10-slow", "sleep 3", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	start := time.Now()
	r := clidrain.Run(ctx, sock, clidrain.Request{Config: config}, &out, &errOut)
	// serve is told, interrupts the drain and still sends its end: the
	// refusal, exit 1, as the CLI's own drain prints it on Ctrl-C.
	if !r.Taken || r.Code != 1 || !strings.Contains(errOut.String(), "hacheck: ") || !strings.Contains(out.String(), "precondition 10-slow") {
		t.Fatalf("%+v out %q err %q", r, out.String(), errOut.String())
	}
	// serve's drain ends as interrupted: refused, recorded, state up.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rec, ok, _ := drain.LoadRecord(st)
		if ok && rec.At.After(start.Add(-time.Second)) {
			if rec.Outcome != "refused" {
				t.Fatalf("record %+v", rec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve's drain did not end after the CLI went away")
		}
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatalf("state %+v", s)
	}
}

// The rule itself, one case per reason to refuse.
func TestCLIDrainRefusal(t *testing.T) {
	me := process{UID: 0, CapEff: "000001ffffffffff", NoNewPrivs: "0", MountNS: "mnt:[4026531841]"}
	ok := cliDrainFacts{CLIConfig: "/etc/h.yaml", Config: "/etc/h.yaml", ConfigNow: "d1", ConfigAt: "d1", BinaryNow: "b1", BinaryAt: "b1", CLI: me, Serve: me}
	for _, tc := range []struct {
		name string
		edit func(*cliDrainFacts)
		want string
	}{
		{"the same", func(*cliDrainFacts) {}, ""},
		{"no file", func(f *cliDrainFacts) { f.Config = "" }, "without a configuration file"},
		{"another file", func(f *cliDrainFacts) { f.CLIConfig = "/tmp/h.yaml" }, "the CLI read /tmp/h.yaml"},
		{"unread at start", func(f *cliDrainFacts) { f.ConfigAt = "" }, "could not read"},
		{"edited", func(f *cliDrainFacts) { f.ConfigNow = "d2" }, "changed since serve loaded it"},
		{"upgraded", func(f *cliDrainFacts) { f.BinaryNow = "b2" }, "replaced since serve started"},
		{"CLI unreadable", func(f *cliDrainFacts) { f.CLIErr = os.ErrNotExist }, "cannot be read"},
		{"another uid", func(f *cliDrainFacts) { f.Serve.UID = 998 }, "uid 998, the CLI as uid 0"},
		{"no capabilities", func(f *cliDrainFacts) { f.Serve.CapEff = "0000000000000000" }, "capabilities"},
		{"no_new_privs", func(f *cliDrainFacts) { f.Serve.NoNewPrivs = "1" }, "no_new_privs"},
		{"private mounts", func(f *cliDrainFacts) { f.Serve.MountNS = "mnt:[4026532210]" }, "mount namespace"},
	} {
		f := ok
		tc.edit(&f)
		got := cliDrainRefusal(f)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
