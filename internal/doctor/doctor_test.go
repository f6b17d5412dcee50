package doctor

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/keepalived"
)

func good() Facts {
	return Facts{
		Binary:         "/usr/sbin/hacheck",
		Path:           []PathFact{{Path: "/", Mode: 0o755}, {Path: "/usr", Mode: 0o755}, {Path: "/usr/sbin", Mode: 0o755}, {Path: "/usr/sbin/hacheck", Mode: 0o755}},
		ConfigFile:     "/etc/hacheck/hacheck.yaml",
		StateDir:       "/var/lib/hacheck",
		CheckTimeout:   2 * time.Second,
		KeepalivedFile: "/etc/keepalived/keepalived.conf",
		Keepalived: keepalived.Config{
			TrackFiles: map[string]string{"hacheck_drain": "/var/lib/hacheck/keepalived.track"},
			Scripts:    map[string]keepalived.Script{"hacheck_check": {Command: "/usr/sbin/hacheck check --config /etc/hacheck/hacheck.yaml", Timeout: 3 * time.Second}},
			Instances: []keepalived.Instance{{Name: "VI_1", Priority: 254, AdvertInt: time.Second, Version: 2, Nopreempt: true, State: "BACKUP",
				Notify: "/usr/sbin/hacheck notify --config /etc/hacheck/hacheck.yaml"}},
		},
		Database:  "hacheck:***@tcp(127.0.0.1:3306)/",
		Grants:    []string{"SLAVE MONITOR", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN", "PROCESS", "CONNECTION ADMIN"},
		FenceKill: true,
		PeerURL:   "http://192.0.2.12:8530",
		AnswerFor: 3 * time.Second, VIPConfigured: true, NetAdmin: true,
	}
}

func TestExamine(t *testing.T) {
	if fs := Examine(good()); Problems(fs) != 0 {
		t.Fatalf("a good installation: %+v", fs)
	}
	for _, tt := range []struct {
		name   string
		break_ func(*Facts)
		want   string
	}{
		{"binary in a world-writable directory", func(f *Facts) { f.Path[2].Mode = 0o1777 }, "/usr/sbin is writable by group or other"},
		{"binary owned by a user", func(f *Facts) { f.Path[3].UID = 1000 }, "owned by uid 1000"},
		{"config readable with a password", func(f *Facts) {
			f.ConfigWarnings = []string{"hacheck.yaml holds a password and is readable by everyone"}
		}, "readable by everyone"},
		{"track file elsewhere", func(f *Facts) { f.Keepalived.TrackFiles["hacheck_drain"] = "/tmp/x" }, "has no track_file on /var/lib/hacheck/keepalived.track"},
		{"check with another config", func(f *Facts) {
			f.Keepalived.Scripts["hacheck_check"] = keepalived.Script{Command: "/usr/sbin/hacheck check --config /etc/other.yaml", Timeout: 3 * time.Second}
		}, "not with --config /etc/hacheck/hacheck.yaml"},
		{"script timeout not above check_timeout", func(f *Facts) {
			f.Keepalived.Scripts["hacheck_check"] = keepalived.Script{Command: "/usr/sbin/hacheck check --config /etc/hacheck/hacheck.yaml", Timeout: 2 * time.Second}
		}, "timeout 2s is not above check_timeout 2s"},
		{"no check script", func(f *Facts) { f.Keepalived.Scripts = nil }, "runs no `hacheck check`"},
		{"no notify", func(f *Facts) { f.Keepalived.Instances[0].Notify = "" }, "no `hacheck notify`"},
		{"low priority", func(f *Facts) { f.Keepalived.Instances[0].Priority = 100 }, "waits 609ms"},
		{"no nopreempt", func(f *Facts) { f.Keepalived.Instances[0].Nopreempt = false }, "nopreempt"},
		{"keepalived.conf unreadable", func(f *Facts) { f.KeepalivedErr = errors.New("permission denied") }, "permission denied"},
		{"missing grants", func(f *Facts) { f.Grants = f.Grants[:3] }, "lacks PROCESS, CONNECTION ADMIN"},
		{"all privileges", func(f *Facts) { f.Grants = []string{"ALL PRIVILEGES"} }, "ALL PRIVILEGES: more than hacheck needs"},
		{"grants unreadable", func(f *Facts) { f.GrantsErr = errors.New("connection refused") }, "cannot read the account's grants"},
		{"peer down", func(f *Facts) { f.PeerErr = errors.New("connection refused") }, "the peer's hacheck does not answer"},
		{"answer without CAP_NET_ADMIN", func(f *Facts) { f.NetAdmin = false }, "lacks CAP_NET_ADMIN"},
		{"answer lease left behind", func(f *Facts) { f.LeasePID = 4242 }, "left by drain pid 4242, which is gone"},
	} {
		f := good()
		tt.break_(&f)
		fs := Examine(f)
		var got []string
		for _, x := range fs {
			if !x.OK {
				got = append(got, x.What+" -> "+x.Fix)
			}
		}
		if !strings.Contains(strings.Join(got, "\n"), tt.want) {
			t.Errorf("%s: problems %q; want one with %q", tt.name, got, tt.want)
		}
	}
	f := good()
	f.Keepalived.Scripts["hacheck_check"] = keepalived.Script{Command: "/usr/sbin/hacheck-check --config /etc/hacheck/hacheck.yaml", Timeout: 3 * time.Second}
	if fs := Examine(f); Problems(fs) != 1 || !strings.Contains(fmt.Sprint(fs), "two program starts") {
		t.Errorf("hacheck-check as the vrrp_script of a node with a database: %+v", fs)
	}
	f.StateOnly = true
	if fs := Examine(f); Problems(fs) != 0 {
		t.Errorf("hacheck-check as the vrrp_script of a state-only node: %+v", fs)
	}
	f.Keepalived.Scripts["hacheck_check"] = keepalived.Script{Command: "/usr/sbin/hacheck-check --config /etc/other.yaml", Timeout: 3 * time.Second}
	if fs := Examine(f); Problems(fs) != 1 {
		t.Errorf("hacheck-check with another config: %+v", fs)
	}
	f = good()
	f.Grants = []string{"SLAVE MONITOR", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN"}
	f.FenceKill = false
	if fs := Examine(f); Problems(fs) != 0 {
		t.Errorf("fence_kill off needs no PROCESS: %+v", fs)
	}
}

func TestCheckScript(t *testing.T) {
	for _, tc := range []struct {
		command, binary string
		ok              bool
	}{
		{"/usr/sbin/hacheck check --config /etc/hacheck/hacheck.yaml", "/usr/sbin/hacheck", true},
		{"/usr/sbin/hacheck-check --config /etc/hacheck/hacheck.yaml", "/usr/sbin/hacheck-check", true},
		{"/usr/sbin/hacheck-check", "/usr/sbin/hacheck-check", true},
		{"/usr/sbin/hacheck notify --config /etc/hacheck/hacheck.yaml", "", false},
		{"/usr/local/bin/site-ok", "", false},
		{"", "", false},
	} {
		if bin, ok := CheckScript(tc.command); bin != tc.binary || ok != tc.ok {
			t.Errorf("%q: %q %v; want %q %v", tc.command, bin, ok, tc.binary, tc.ok)
		}
	}
}
