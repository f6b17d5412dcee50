package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
)

const testToken = "0123456789abcdef0123456789abcdef"

func adminConfig(t *testing.T) *testNode {
	cfg := testConfig(t)
	cfg.Drain.Timeout = 5 * time.Second
	cfg.PreconditionTimeout = time.Second
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin = Admin{Enabled: true, TokenFile: tok}
	return cfg
}

func post(t *testing.T, url, token, body string) (int, adminResponse) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar adminResponse
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &ar)
	return resp.StatusCode, ar
}

func TestAdminTokenFileMustBePrivate(t *testing.T) {
	cfg := adminConfig(t)
	os.Chmod(cfg.Admin.TokenFile, 0o644)
	if _, err := New(cfg.options(nil), quiet); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group/other-readable token accepted: %v", err)
	}
	os.Chmod(cfg.Admin.TokenFile, 0o600)
	os.WriteFile(cfg.Admin.TokenFile, []byte("short"), 0o600)
	if _, err := New(cfg.options(nil), quiet); err == nil || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("short token accepted: %v", err)
	}
}

func TestAdminDisabledByDefault(t *testing.T) {
	cfg := testConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	if code, _ := post(t, base+"/v1/drain", testToken, ""); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
		t.Fatalf("admin route answered %d with the API off", code)
	}
	if s, _ := (state.Store{Dir: cfg.StateDir}).Load(); s.State != state.Up {
		t.Fatal("state changed with the admin API off")
	}
}

func TestAdminAuthAndDrain(t *testing.T) {
	cfg := adminConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)

	if code, _ := post(t, base+"/v1/drain", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := post(t, base+"/v1/drain", strings.Repeat("x", len(testToken)), ""); code != http.StatusForbidden {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := post(t, base+"/v1/drain", testToken, `{"reason": "x", "bogus": 1}`); code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", code)
	}
	if code, _ := post(t, base+"/v1/drain", testToken, `{"reason": "`+strings.Repeat("a", 5000)+`"}`); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", code)
	}
	if s, _ := st.Load(); s.State != state.Up || s.Generation != 1 {
		t.Fatalf("rejected requests changed the state: %+v", s)
	}

	code, ar := post(t, base+"/v1/drain", testToken, `{"reason": "kernel update", "by": "alice"}`)
	if code != 200 || ar.Outcome != "drained" {
		t.Fatalf("drain: %d %+v", code, ar)
	}
	s, _ := st.Load()
	if s.State != state.Drained || s.Reason != "kernel update" || !strings.HasPrefix(s.ChangedBy, "alice") || s.Via != "http" || !strings.HasPrefix(s.From, "127.0.0.1:") {
		t.Fatalf("audit trail missing: %+v", s)
	}
	if code, ar := post(t, base+"/v1/drain", testToken, ""); code != 200 || ar.Outcome != "already_drained" {
		t.Fatalf("second drain: %d %+v", code, ar)
	}
	if code, ar := post(t, base+"/v1/undrain", testToken, `{"reason": "done"}`); code != 200 || ar.Outcome != "up" {
		t.Fatalf("undrain: %d %+v", code, ar)
	}
}

func TestAdminDrainRunsPreconditions(t *testing.T) {
	cfg := adminConfig(t)
	pre := t.TempDir()
	os.WriteFile(filepath.Join(pre, "10-no"), []byte("#!/bin/sh\necho replica behind\nexit 1\n"), 0o755)
	cfg.PreconditionsDir = pre
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	code, ar := post(t, base+"/v1/drain", testToken, `{"reason": "try"}`)
	if code != http.StatusConflict || ar.Outcome != "refused" || len(ar.Failures) != 1 || !strings.Contains(ar.Failures[0], "replica behind") {
		t.Fatalf("refused drain: %d %+v", code, ar)
	}
	if s, _ := st.Load(); s.State != state.Up {
		t.Fatal("refused HTTP drain changed the state")
	}
	if rec, ok, _ := drain.LoadRecord(st); !ok || rec.Outcome != "refused" || rec.Via != "http" {
		t.Fatalf("refusal not recorded: %+v", rec)
	}
}

func TestAdminUnixSocket(t *testing.T) {
	cfg := testConfig(t)
	cfg.Drain.Timeout = 5 * time.Second
	sock := filepath.Join(t.TempDir(), "admin.sock")
	cfg.Admin = Admin{Enabled: true, Socket: sock}
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	// Without a token file the TCP listener has no admin routes.
	if code, _ := post(t, base+"/v1/drain", testToken, ""); code == 200 {
		t.Fatal("admin API reachable over TCP without a token file")
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Post("http://hacheck/v1/drain", "application/json", strings.NewReader(`{"reason":"via socket"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("socket drain: %d", resp.StatusCode)
	}
	s, _ := st.Load()
	if s.State != state.Drained || !regexp.MustCompile(`^unix:uid=\d+.*,pid=\d+$`).MatchString(s.From) {
		t.Fatalf("socket drain audit: %+v", s)
	}
}

func agentSays(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return line
}

func TestAgentReplies(t *testing.T) {
	cfg := testConfig(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.Agent.Listen = ln.Addr().String()
	ln.Close()
	st := state.Store{Dir: cfg.StateDir}
	start(t, cfg, nil)
	eventually := func(prefix string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got = agentSays(t, cfg.Agent.Listen); strings.HasPrefix(got, prefix) {
				return
			}
		}
		t.Fatalf("agent said %q, want prefix %q", got, prefix)
	}
	eventually("down #state:")
	st.Set(state.Change{To: state.Up})
	eventually("up ready\n")
	st.Set(state.Change{To: state.Drained, Reason: "move, to b"})
	eventually("drain #drained_by_")
	if got := agentSays(t, cfg.Agent.Listen); strings.Count(got, "#") != 1 || strings.Contains(got, ",") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("reason not sanitized for the agent protocol: %q", got)
	}
}

// POST /v1/hold and /v1/release through the peer client: the token is
// required, the hold makes /healthz false and the track file 1, a bad ttl
// is refused, release makes the node eligible again.
func TestAdminHoldAndRelease(t *testing.T) {
	cfg := adminConfig(t)
	st := state.Store{Dir: cfg.StateDir}
	st.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	ctx := context.Background()
	req := peer.HoldRequest{For: "node-c", By: "node-a", TTL: "30s"}
	if _, err := (peer.Client{URL: base}).Hold(ctx, req); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("hold without the token: %v", err)
	}
	if _, err := (peer.Client{URL: base, Token: testToken}).Hold(ctx, peer.HoldRequest{For: "node-c", By: "node-a", TTL: "1h"}); err == nil || !strings.Contains(err.Error(), "ttl") {
		t.Fatalf("hold with a ttl over the maximum: %v", err)
	}
	c := peer.Client{URL: base, Token: testToken, Timeout: 2 * time.Second}
	hr, err := c.Hold(ctx, req)
	if err != nil || hr.Outcome != "held" || hr.Hold == nil || hr.Hold.For != "node-c" {
		t.Fatalf("hold: %+v %v", hr, err)
	}
	if b, _ := os.ReadFile(st.TrackPath()); string(b) != "1\n" {
		t.Errorf("track file %q while held", b)
	}
	waitHealthz(t, base, false)
	rep, err := c.Status(ctx)
	if err != nil || rep.Healthy || !strings.Contains(rep.Reason, "held for move to node-c by node-a") || rep.State.Hold == nil {
		t.Errorf("status while held: healthy %v reason %q err %v", rep.Healthy, rep.Reason, err)
	}
	hr, err = c.Release(ctx, req)
	if err != nil || hr.Outcome != "released" {
		t.Fatalf("release: %+v %v", hr, err)
	}
	waitHealthz(t, base, true)
	if hr, err = c.Release(ctx, req); err != nil || hr.Outcome != "not_held" {
		t.Fatalf("second release: %+v %v", hr, err)
	}
}

func waitHealthz(t *testing.T, base string, want bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if (resp.StatusCode == http.StatusOK) == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not become %v", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// POST /v1/drain passes "to" to the same drain the CLI runs.
func TestAdminDrainTo(t *testing.T) {
	cfg := adminConfig(t)
	state.Store{Dir: cfg.StateDir}.Set(state.Change{To: state.Up})
	base, _ := start(t, cfg, nil)
	code, ar := post(t, base+"/v1/drain", testToken, `{"reason": "move", "to": "node-c"}`)
	if code != http.StatusOK || !strings.Contains(ar.Output, "successor: node-c (chosen with --to)") {
		t.Fatalf("drain to: %d %+v", code, ar)
	}
}
