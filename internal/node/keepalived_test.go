package node

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve warns at start about a keepalived.conf that makes this node wait
// more than 50 ms before taking over; a missing file is only a debug line.
func TestWarnKeepalived(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := write("old.conf", "vrrp_instance VI_1 {\n  state BACKUP\n  nopreempt\n  priority 100\n  advert_int 1\n}\n")
	good := write("good.conf", "vrrp_instance VI_1 {\n  state BACKUP\n  nopreempt\n  priority 253\n  advert_int 1\n}\n")
	for _, tc := range []struct {
		name, path string
		want       []string // substrings of the log, in level=... lines
		none       string   // must not appear
	}{
		{"priority 100", old, []string{"level=WARN", "waits 609ms"}, ""},
		{"priority 253", good, []string{"level=DEBUG", "skew=11.71875ms"}, "level=WARN"},
		{"missing file", filepath.Join(dir, "none.conf"), []string{"level=DEBUG", "not found"}, "level=WARN"},
		{"off", "", nil, "keepalived"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := load(t, "")
			cfg.Keepalived.Config = tc.path
			var buf bytes.Buffer
			n := build(t, cfg)
			n.log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			n.WarnKeepalived()
			out := buf.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			if tc.none != "" && strings.Contains(out, tc.none) {
				t.Errorf("log has %q:\n%s", tc.none, out)
			}
		})
	}
}

func TestKeepalivedConfigDefault(t *testing.T) {
	if got := load(t, "").Keepalived.Config; got != "/etc/keepalived/keepalived.conf" {
		t.Errorf("keepalived.config defaults to %q", got)
	}
	if got := load(t, "keepalived: {config: ''}\n").Keepalived.Config; got != "" {
		t.Errorf("keepalived.config: '' gives %q, want off", got)
	}
}
