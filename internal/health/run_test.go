package health

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestDecideRun: every role against every state this node can be in, the
// role read through DecideRole as node.RunFacts reads it.
func TestDecideRun(t *testing.T) {
	// Roles as read now (RoleFacts -> DecideRole, as node.Role does).
	primary := RoleFacts{VIPConfigured: true, HoldsVIP: true}
	replica := RoleFacts{VIPConfigured: true, ReadOnly: true, Replicating: true, Source: "192.0.2.11:3306"}
	vipReadOnly := RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadOnly: true}
	vipUnreadable := RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadErr: errors.New("i/o timeout")}
	noVIPWritable := RoleFacts{VIPConfigured: true}
	noVIPNotReplicating := RoleFacts{VIPConfigured: true, ReadOnly: true, ReplicaErr: errors.New("Last_IO_Error: connect")}
	vipErr := RoleFacts{VIPConfigured: true, VIPErr: errors.New("no such interface eth9")}
	replicaNoVIPConfigured := RoleFacts{ReadOnly: true, Replicating: true, Source: "192.0.2.11:3306"}
	noDBVIP := RoleFacts{VIPConfigured: true, HoldsVIP: true, ReadErr: errors.New("no mysql.dsn")}
	noDBNoVIP := RoleFacts{VIPConfigured: true, ReadErr: errors.New("no mysql.dsn")}

	up := func(rf RoleFacts) RunFacts {
		return RunFacts{Up: true, VIPConfigured: rf.VIPConfigured, HasDatabase: true, Role: DecideRole(rf)}
	}
	with := func(f RunFacts, edit func(*RunFacts)) RunFacts { edit(&f); return f }
	drained := func(f *RunFacts) { f.Up = false }
	stale := func(f *RunFacts) { f.Stale = true }
	noDB := func(f *RunFacts) { f.HasDatabase = false }
	missing := func(f *RunFacts) { f.StateErr = fs.ErrNotExist }
	corrupt := func(f *RunFacts) { f.StateErr = errors.New("state.json: invalid character 'x'") }
	timedOut := func(f *RunFacts) { f.CheckErr = context.DeadlineExceeded }

	type want struct {
		run bool
		why string
	}
	for _, tt := range []struct {
		name string
		f    RunFacts
		want map[RunRole]want
	}{
		{"up primary", up(primary), map[RunRole]want{
			RunPrimary: {true, "holds the VIP, its server writable"},
			RunReplica: {false, "not replica: holds the VIP"},
			RunUp:      {true, "up"}}},
		{"drained primary", with(up(primary), drained), map[RunRole]want{
			RunPrimary: {false, "not primary: the state is drained"},
			RunReplica: {false, "holds the VIP"},
			RunUp:      {false, "the state is drained"}}},
		{"stale ex-primary holding the VIP, writable", with(up(primary), stale), map[RunRole]want{
			RunPrimary: {false, "stale ex-primary"},
			RunUp:      {false, "stale ex-primary"}}},
		{"up replica", up(replica), map[RunRole]want{
			RunPrimary: {false, "does not hold the VIP"},
			RunReplica: {true, "replicating from 192.0.2.11:3306"},
			RunUp:      {true, "up"}}},
		{"drained replica", with(up(replica), drained), map[RunRole]want{
			RunPrimary: {false, "drained"},
			RunReplica: {true, "replicating"},
			RunUp:      {false, "drained"}}},
		{"stale replica", with(up(replica), stale), map[RunRole]want{
			RunReplica: {true, "replicating"},
			RunUp:      {false, "stale"}}},
		{"VIP, read-only (promotion refused)", up(vipReadOnly), map[RunRole]want{
			RunPrimary: {false, "holds the VIP but its server is read-only"},
			RunReplica: {false, "holds the VIP"},
			RunUp:      {true, "up"}}},
		{"VIP, server unreadable", up(vipUnreadable), map[RunRole]want{
			RunPrimary: {false, "its server cannot be read: i/o timeout"},
			RunReplica: {false, "holds the VIP"}}},
		{"no VIP, writable", up(noVIPWritable), map[RunRole]want{
			RunPrimary: {false, "does not hold the VIP"},
			RunReplica: {false, "its server is writable"}}},
		{"no VIP, read-only, not replicating", up(noVIPNotReplicating), map[RunRole]want{
			RunPrimary: {false, "does not hold the VIP"},
			RunReplica: {false, "does not replicate: Last_IO_Error: connect"}}},
		{"VIP unreadable", up(vipErr), map[RunRole]want{
			RunPrimary: {false, "whether this node holds the VIP is unknown: no such interface eth9"},
			RunReplica: {false, "unknown: no such interface eth9"},
			RunUp:      {true, "up"}}},
		{"no vip configured, writable", up(RoleFacts{}), map[RunRole]want{
			RunPrimary: {false, "no vip is configured"},
			RunReplica: {false, "writable"}}},
		{"no vip configured, replicating", up(replicaNoVIPConfigured), map[RunRole]want{
			RunReplica: {true, "replicating"}}},
		{"no mysql.dsn, holds the VIP", with(up(noDBVIP), noDB), map[RunRole]want{
			RunPrimary: {true, "no mysql.dsn"},
			RunReplica: {false, "no mysql.dsn"},
			RunUp:      {true, "up"}}},
		{"no mysql.dsn, no VIP", with(up(noDBNoVIP), noDB), map[RunRole]want{
			RunPrimary: {false, "does not hold the VIP"}}},
		{"no mysql.dsn, drained, holds the VIP", with(with(up(noDBVIP), noDB), drained), map[RunRole]want{
			RunPrimary: {false, "drained"}}},
		{"state missing", with(up(primary), missing), map[RunRole]want{
			RunPrimary: {false, "the state cannot be read: file does not exist"},
			RunReplica: {false, "the state cannot be read"},
			RunUp:      {false, "the state cannot be read"}}},
		{"state corrupt", with(up(replica), corrupt), map[RunRole]want{
			RunPrimary: {false, "invalid character"},
			RunReplica: {false, "invalid character"},
			RunUp:      {false, "invalid character"}}},
		{"check timed out", with(up(primary), timedOut), map[RunRole]want{
			RunPrimary: {false, "the check failed: context deadline exceeded"},
			RunReplica: {false, "the check failed"},
			RunUp:      {false, "the check failed"}}},
	} {
		for role, w := range tt.want {
			v := DecideRun(role, tt.f)
			if v.Run != w.run || !strings.Contains(v.Why, w.why) {
				t.Errorf("%s, --role %s: run=%v %q; want run=%v with %q", tt.name, role, v.Run, v.Why, w.run, w.why)
			}
		}
	}
}

func TestParseRunRole(t *testing.T) {
	for _, s := range []string{"primary", "replica", "up"} {
		if r, err := ParseRunRole(s); err != nil || string(r) != s {
			t.Errorf("%s: %v %v", s, r, err)
		}
	}
	if _, err := ParseRunRole("master"); err == nil || !strings.Contains(err.Error(), "write primary, replica or up") {
		t.Errorf("master: %v", err)
	}
}
