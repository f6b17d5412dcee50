package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// SIGHUP must never kill serve (the default action would, exit 129):
// the real binary gets two, keeps answering /healthz, says why in its log,
// and still stops cleanly on SIGTERM.
func TestServeSurvivesSIGHUP(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hacheck")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	n := newNode(t, "")
	if code, _, errOut := n.hacheck("undrain"); code != ExitOK {
		t.Fatalf("undrain: %s", errOut)
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", n.config)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(re *regexp.Regexp) []string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve exited before logging %s", re)
				}
				if m := re.FindStringSubmatch(l); m != nil {
					return m
				}
			case <-timeout:
				t.Fatalf("serve did not log %s", re)
			}
		}
	}
	addr := waitLine(regexp.MustCompile(`msg=serving listen=(\S+)`))[1]
	healthz := func() int {
		t.Helper()
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := healthz(); c != 200 {
		t.Fatalf("/healthz %d before SIGHUP", c)
	}
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLine(regexp.MustCompile(`SIGHUP ignored.*restart`))
	}
	if c := healthz(); c != 200 {
		t.Fatalf("/healthz %d after SIGHUP", c)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGHUP then SIGTERM: %v (want exit 0)", err)
	}
}
