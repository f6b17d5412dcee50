package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The hardening of the systemd unit is a contract: an edit that drops a
// line fails here, not in someone's security review.
func TestSystemdUnitHardening(t *testing.T) {
	const path = "../../examples/systemd/hacheck.service"
	unit, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string][]string{}
	for _, line := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			have[k] = append(have[k], v)
		}
	}
	for _, want := range []struct{ key, value, why string }{
		{"User", "hacheck", "a dedicated user, not root"},
		{"Group", "hacheck", "its own group (the config file is root:hacheck 0640)"},
		{"StateDirectory", "hacheck", "/var/lib/hacheck owned by the user"},
		{"StateDirectoryMode", "0750", "the state directory as the package ships it"},
		{"RuntimeDirectory", "hacheck", "/run/hacheck for admin.socket"},
		{"ProtectSystem", "strict", "a read-only file system but the state directory"},
		{"CapabilityBoundingSet", "", "no capabilities at all"},
		{"AmbientCapabilities", "", "no capabilities at all"},
		{"SystemCallFilter", "@system-service", "the system-call allow list"},
		{"SystemCallErrorNumber", "EPERM", "a denied call fails instead of killing serve"},
		{"NoNewPrivileges", "yes", "no setuid escalation from checks"},
		{"ExecStart", "/usr/sbin/hacheck serve --config /etc/hacheck/hacheck.yaml", "the packaged binary and config"},
	} {
		found := false
		for _, v := range have[want.key] {
			found = found || v == want.value
		}
		if !found {
			t.Errorf("%s lost %s=%s (%s)", path, want.key, want.value, want.why)
		}
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("no systemd-analyze: exposure score not computed")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "security", "--offline=true", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for hacheck\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security --offline=true: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security exposure: %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0 (README says 1.4)", score)
	}
}
