package cutover

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// fakeDB is a DB whose answers are set by the test and which logs what was
// done to it.
type fakeDB struct {
	name     string
	dialect  db.Dialect
	id       uint32
	ro       bool
	down     error // every call fails with it
	pos      string
	applied  bool // HasApplied answer
	waitErr  error
	replica  *db.ReplicaStatus
	setROErr error
	log      []string
}

func (f *fakeDB) String() string { return f.name }
func (f *fakeDB) ServerID(context.Context) (uint32, error) {
	return f.id, f.down
}
func (f *fakeDB) ReadOnly(context.Context) (db.ReadOnlyState, error) {
	if f.down != nil {
		return db.ReadOnlyState{}, f.down
	}
	st := db.ReadOnlyState{Dialect: f.dialect, ReadOnly: f.ro}
	if f.dialect == db.MySQL {
		st.SuperReadOnly = f.ro
	}
	return st, nil
}
func (f *fakeDB) SetReadOnly(_ context.Context, on bool) error {
	if f.down != nil {
		return f.down
	}
	if f.setROErr != nil {
		return f.setROErr
	}
	f.log = append(f.log, map[bool]string{true: "fence", false: "unfence"}[on])
	f.ro = on
	return nil
}
func (f *fakeDB) GTIDPosition(context.Context) (string, error) { return f.pos, f.down }
func (f *fakeDB) WaitForGTID(context.Context, string, time.Duration) error {
	if f.down != nil {
		return f.down
	}
	if f.waitErr == nil {
		f.applied = true
	}
	return f.waitErr
}
func (f *fakeDB) HasApplied(context.Context, string) (bool, error) { return f.applied, f.down }
func (f *fakeDB) ReplicaStatus(context.Context) (*db.ReplicaStatus, error) {
	return f.replica, f.down
}
func (f *fakeDB) StopReplica(context.Context) error {
	f.log = append(f.log, "stop-replica")
	return f.down
}
func (f *fakeDB) StopApplier(context.Context) error {
	f.log = append(f.log, "stop-applier")
	return f.down
}
func (f *fakeDB) StartReplica(context.Context) error {
	f.log = append(f.log, "start-replica")
	return f.down
}
func (f *fakeDB) ChangeSource(_ context.Context, src db.Source) error {
	f.log = append(f.log, "change-source "+src.Host)
	return f.down
}

var _ DB = (*fakeDB)(nil)

func running(sourceID uint32) *db.ReplicaStatus {
	return &db.ReplicaStatus{IORunning: "Yes", SQLRunning: "Yes", SourceHost: "10.0.0.1", SourcePort: 3306, SourceServerID: sourceID, UsingGTID: "Slave_Pos"}
}

// mysql84Row is SHOW REPLICA STATUS as MySQL 8.4 spells it (recorded,
// trimmed to the columns read), replicating from server_id 1.
func mysql84Row(t *testing.T, io, sqlRunning string) *db.ReplicaStatus {
	t.Helper()
	cols := []string{"Replica_IO_State", "Source_Host", "Source_User", "Source_Port", "Replica_IO_Running", "Replica_SQL_Running",
		"Last_Errno", "Last_Error", "Seconds_Behind_Source", "Last_IO_Errno", "Last_IO_Error", "Last_SQL_Errno", "Last_SQL_Error",
		"Source_Server_Id", "Retrieved_Gtid_Set", "Executed_Gtid_Set", "Auto_Position", "Channel_Name"}
	v := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	vals := []sql.NullString{v("Waiting for source to send event"), v("10.0.0.1"), v("repl"), v("3306"), v(io), v(sqlRunning),
		v("0"), v(""), v("0"), v("0"), v(""), v("0"), v(""),
		v("1"), v("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"), v("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"), v("1"), v("")}
	st, err := db.ParseReplicaStatus(cols, vals)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func upPeer(node string) health.Report {
	return health.Report{Node: node, Healthy: true, State: &state.State{State: state.Up}}
}

func TestEvaluatePeer(t *testing.T) {
	drained := upPeer("b")
	drained.State.State, drained.Healthy, drained.Reason = "drained", false, "maintenance"
	sick := upPeer("b")
	sick.Healthy, sick.Reason = false, "check db failed"
	cases := []struct {
		name string
		f    PeerFacts
		ok   bool
		want string
	}{
		{"ready (MariaDB)", PeerFacts{Status: upPeer("b"), LocalID: 7, Replica: running(7)}, true, "replicates from this server"},
		{"ready (MySQL 8.4 row)", PeerFacts{Status: upPeer("b"), LocalID: 1, Replica: mysql84Row(t, "Yes", "Yes")}, true, "IO and SQL threads running"},
		{"MySQL 8.4 SQL stopped", PeerFacts{Status: upPeer("b"), LocalID: 1, Replica: mysql84Row(t, "Yes", "No")}, false, "SQL thread stopped"},
		{"peer hacheck unreachable", PeerFacts{StatusErr: errors.New("connection refused"), LocalID: 7, Replica: running(7)}, false, "connection refused"},
		{"peer drained", PeerFacts{Status: drained, LocalID: 7, Replica: running(7)}, false, `"drained", not up`},
		{"peer unhealthy", PeerFacts{Status: sick, LocalID: 7, Replica: running(7)}, false, "not healthy"},
		{"not a replica", PeerFacts{Status: upPeer("b"), LocalID: 7}, false, "not a replica"},
		{"replicates from another", PeerFacts{Status: upPeer("b"), LocalID: 7, Replica: running(9)}, false, "server_id 9"},
		{"local down", PeerFacts{Status: upPeer("b"), LocalErr: errors.New("dial"), Replica: running(7)}, false, "this server: dial"},
		{"every failure listed", PeerFacts{Status: drained, LocalID: 7, Replica: running(9)}, false, "not up: maintenance; peer server"},
	}
	for _, c := range cases {
		ok, detail := EvaluatePeer(c.f)
		if ok != c.ok || !strings.Contains(detail, c.want) {
			t.Errorf("%s: ok=%v %q; want ok=%v containing %q", c.name, ok, detail, c.ok, c.want)
		}
	}
}

func TestEvaluateGuard(t *testing.T) {
	held := func(b bool) health.Report {
		p := upPeer("a")
		p.VIP = &vip.Status{Held: b}
		return p
	}
	ro := db.ReadOnlyState{Dialect: db.MariaDB, ReadOnly: true}
	rw := db.ReadOnlyState{Dialect: db.MariaDB}
	// MySQL: read_only alone lets SUPER write; only super_read_only fences.
	mysqlHalf := db.ReadOnlyState{Dialect: db.MySQL, ReadOnly: true}
	cases := []struct {
		name      string
		f         GuardFacts
		ok, fence bool
		want      string
	}{
		{"read-only", GuardFacts{ReadOnly: ro}, true, false, "not a write target"},
		{"writable with the VIP", GuardFacts{ReadOnly: rw, VIPHeld: true}, true, false, "holds the VIP"},
		{"split brain", GuardFacts{ReadOnly: rw, Peer: held(true)}, false, true, "SPLIT BRAIN"},
		{"split brain, MySQL read_only without super_read_only", GuardFacts{ReadOnly: mysqlHalf, Peer: held(true)}, false, true, "SPLIT BRAIN"},
		// Bootstrap only when it is known that no node holds the VIP and
		// the peer's server is read-only.
		{"bootstrap", GuardFacts{ReadOnly: rw, Peer: held(false), PeerDBAsked: true, PeerDB: ro}, true, false, "rightful claimant"},
		{"stale ex-primary: the peer has more", GuardFacts{ReadOnly: rw, Peer: held(false), PeerDBAsked: true, PeerDB: ro, PeerAhead: true}, false, true, "STALE EX-PRIMARY"},
		{"bootstrap, positions not comparable", GuardFacts{ReadOnly: rw, Peer: held(false), PeerDBAsked: true, PeerDB: ro, PeerAheadErr: errors.New("timeout")}, false, false, "unknown (timeout)"},
		{"no VIP anywhere, peer server not read", GuardFacts{ReadOnly: rw, Peer: held(false)}, false, false, "peer.mysql_dsn is not set"},
		{"no VIP anywhere, peer server down", GuardFacts{ReadOnly: rw, Peer: held(false), PeerDBAsked: true, PeerDBErr: errors.New("refused")}, false, false, "cannot be read"},
		{"no VIP anywhere, peer server writable", GuardFacts{ReadOnly: rw, Peer: held(false), PeerDBAsked: true, PeerDB: rw}, false, true, "SPLIT BRAIN"},
		// The peer's hacheck cannot say: its server decides.
		{"peer unknown, peer server writable", GuardFacts{ReadOnly: rw, PeerErr: errors.New("timeout"), PeerDBAsked: true, PeerDB: rw}, false, true, "SPLIT BRAIN"},
		{"peer unknown, MySQL peer without super_read_only", GuardFacts{ReadOnly: rw, PeerErr: errors.New("timeout"), PeerDBAsked: true, PeerDB: mysqlHalf}, false, true, "SPLIT BRAIN"},
		{"peer unknown, peer server read-only", GuardFacts{ReadOnly: rw, PeerErr: errors.New("timeout"), PeerDBAsked: true, PeerDB: ro}, false, false, "not fencing on what is unknown"},
		{"peer unknown, peer server down", GuardFacts{ReadOnly: rw, PeerErr: errors.New("timeout"), PeerDBAsked: true, PeerDBErr: errors.New("refused")}, false, false, "timeout"},
		{"peer unknown, no peer dsn", GuardFacts{ReadOnly: rw, PeerErr: errors.New("timeout")}, false, false, "not fencing"},
		{"peer without vip", GuardFacts{ReadOnly: rw, Peer: upPeer("a"), PeerDBAsked: true, PeerDB: ro}, false, false, "does not report the VIP"},
		{"vip unreadable", GuardFacts{ReadOnly: rw, VIPErr: errors.New("no such interface")}, false, false, "unknown"},
		{"server down", GuardFacts{ReadErr: errors.New("dial tcp: refused")}, false, false, "refused"},
	}
	for _, c := range cases {
		v := evaluateGuard(c.f)
		if v.OK != c.ok || v.Fence != c.fence || !strings.Contains(v.Detail, c.want) {
			t.Errorf("%s: %+v; want ok=%v fence=%v containing %q", c.name, v, c.ok, c.fence, c.want)
		}
	}
}

func TestDecideNotify(t *testing.T) {
	at := func(d time.Duration) Stamp { return Stamp{BootID: "boot-1", Boottime: time.Hour + d} }
	t0 := time.Now()
	promoted := Record{Started: t0, Stamp: at(0), Plan: PlanPromote}
	promoted.Event, promoted.Seq = "MASTER", 4
	fenced := Record{Started: t0, Stamp: at(0), Plan: PlanFence}
	fenced.Event, fenced.Seq = "BACKUP", 4
	noVIP := VIPView{}
	held := VIPView{Known: true, Held: true}
	notHeld := VIPView{Known: true}
	broken := VIPView{Known: true, Err: errors.New("netlink")}
	later, earlier := at(time.Second), at(-time.Millisecond)
	cases := []struct {
		name  string
		state string
		stamp Stamp
		last  *Record // nil: no record yet
		v     VIPView
		want  notifyPlan
	}{
		{"first MASTER, no VIP", "MASTER", at(0), nil, noVIP, planPromote},
		{"MASTER with the VIP", "MASTER", later, &promoted, held, planPromote},
		{"MASTER without the VIP", "MASTER", later, &promoted, notHeld, planFence},
		{"MASTER, VIP unreadable", "MASTER", later, &promoted, broken, planFence},
		{"stale MASTER after a newer BACKUP, no VIP", "MASTER", earlier, &fenced, noVIP, planIgnore},
		{"stale MASTER with the VIP", "MASTER", earlier, &fenced, held, planIgnore},
		{"stale MASTER without the VIP", "MASTER", earlier, &promoted, notHeld, planFence},
		// A node without the VIP is fenced however stale the event: the
		// newer MASTER is no longer the truth once the VIP is gone.
		{"stale BACKUP after a newer MASTER, VIP gone", "BACKUP", earlier, &promoted, notHeld, planFence},
		{"stale FAULT after a newer MASTER, VIP unreadable", "FAULT", earlier, &promoted, broken, planFence},
		{"stale BACKUP after a newer MASTER, VIP held", "BACKUP", earlier, &promoted, held, planIgnore},
		{"stale STOP after a newer MASTER, VIP held", "STOP", earlier, &promoted, held, planIgnore},
		{"stale BACKUP after a newer fence, VIP held", "BACKUP", earlier, &fenced, held, planFence},
		{"stale BACKUP after a newer MASTER, no VIP configured", "BACKUP", earlier, &promoted, noVIP, planFence},
		{"BACKUP while holding the VIP, no newer promotion", "BACKUP", later, &promoted, held, planFence},
		{"BACKUP", "BACKUP", later, &promoted, notHeld, planFence},
		{"BACKUP, no VIP configured", "BACKUP", later, &promoted, noVIP, planFence},
		{"FAULT, VIP unreadable: fail towards read-only", "FAULT", later, &promoted, broken, planFence},
		{"STOP", "STOP", later, &promoted, notHeld, planFence},
		{"same stamp (same process) is not stale", "MASTER", at(0), &fenced, held, planPromote},
		{"another boot is not stale", "MASTER", Stamp{BootID: "boot-2", Boottime: time.Second}, &fenced, held, planPromote},
		{"unknown stamp is not stale", "MASTER", Stamp{}, &fenced, held, planPromote},
		{"unknown stamp, BACKUP with the VIP", "BACKUP", Stamp{}, &promoted, held, planFence},
	}
	for _, c := range cases {
		var last Record
		if c.last != nil {
			last = *c.last
		}
		// The wall clock stepped back an hour: it must not matter.
		ev := Event{State: c.state, Stamp: c.stamp, Started: t0.Add(-time.Hour)}
		got, why := decideNotify(ev, last, c.last != nil, c.v)
		if got != c.want {
			t.Errorf("%s: plan %d (%s), want %d", c.name, got, why, c.want)
		}
	}
}

func TestNowStampMovesForward(t *testing.T) {
	a, err := NowStamp()
	if err != nil {
		t.Skipf("no ordering stamp here: %v", err)
	}
	time.Sleep(time.Millisecond)
	b, err := NowStamp()
	if err != nil {
		t.Fatal(err)
	}
	if a.BootID == "" || !a.Comparable(b) || !a.OlderThan(b) || b.OlderThan(a) {
		t.Fatalf("%+v then %+v", a, b)
	}
	if other := (Stamp{BootID: "another", Boottime: b.Boottime + time.Hour}); b.OlderThan(other) || other.OlderThan(b) {
		t.Fatal("stamps of different boots compared")
	}
}

func TestPromote(t *testing.T) {
	opt := PromoteOptions{Unplanned: "refuse", CatchupTimeout: time.Second, FenceTimeout: time.Second, PeerTimeout: time.Second}
	cases := []struct {
		name      string
		local     *fakeDB
		peer      *fakeDB // nil: peer.mysql_dsn not set
		opt       func(*PromoteOptions)
		action    string
		wantErr   bool
		localLog  string
		peerLog   string
		stillRO   bool
		wantInMsg string
	}{
		{name: "bootstrap: no source, the peer lacks nothing", local: &fakeDB{name: "b", ro: true, applied: true}, peer: &fakeDB{name: "a", ro: true, pos: "0-2-3"},
			action: ActionPromoted, localLog: "unfence", wantInMsg: "b applied it"},
		{name: "bootstrap: a writable peer is fenced first", local: &fakeDB{name: "b", ro: true, applied: true}, peer: &fakeDB{name: "a", pos: "0-2-3"},
			action: ActionPromoted, localLog: "unfence", peerLog: "fence"},
		{name: "single server: no source, no peer configured", local: &fakeDB{name: "b", ro: true},
			action: ActionWritable, localLog: "unfence", wantInMsg: "no peer is configured"},
		{name: "stale ex-primary: the peer has more, no replication account", local: &fakeDB{name: "b", ro: true, pos: "0-1-312"},
			peer: &fakeDB{name: "a", id: 2, pos: "0-2-1215"}, action: ActionRefused, stillRO: true, peerLog: "fence", wantInMsg: "DIVERGED"},
		{name: "stale ex-primary: catches up from the peer, then promotes", local: &fakeDB{name: "b", ro: true, pos: "0-1-312"},
			peer: &fakeDB{name: "a", id: 2, ro: true, pos: "0-2-1215"}, opt: func(o *PromoteOptions) { o.CatchUpFrom = &FollowOptions{Host: "192.0.2.11", Port: 3306, User: "repl"} },
			action: ActionPromoted, localLog: "change-source 192.0.2.11,start-replica,stop-applier,unfence,stop-replica", wantInMsg: "caught up from a first"},
		{name: "stale ex-primary cannot catch up", local: &fakeDB{name: "b", ro: true, pos: "0-1-312", waitErr: db.ErrGTIDWaitTimeout},
			peer: &fakeDB{name: "a", id: 2, ro: true, pos: "0-2-1215"}, opt: func(o *PromoteOptions) { o.CatchUpFrom = &FollowOptions{Host: "192.0.2.11", Port: 3306, User: "repl"} },
			action: ActionRefused, stillRO: true, localLog: "change-source 192.0.2.11,start-replica", wantInMsg: "DIVERGED"},
		{name: "no source, the peer cannot be asked", local: &fakeDB{name: "b", ro: true},
			peer: &fakeDB{name: "a", down: errors.New("connection refused")}, action: ActionRefused, stillRO: true, wantInMsg: "which may have writes this one lacks"},
		{name: "planned: old primary fenced, applied", local: &fakeDB{name: "b", ro: true, replica: running(1), applied: true},
			peer: &fakeDB{name: "a", id: 1, ro: true, pos: "0-1-10"}, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica"},
		{name: "planned, MySQL dialect", local: &fakeDB{name: "b", dialect: db.MySQL, ro: true, replica: mysql84Row(t, "Yes", "Yes"), applied: true},
			peer: &fakeDB{name: "a", dialect: db.MySQL, id: 1, ro: true, pos: "uuid:1-77"}, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica"},
		{name: "catches up first", local: &fakeDB{name: "b", ro: true, replica: running(1)},
			peer: &fakeDB{name: "a", id: 1, ro: true, pos: "0-1-10"}, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica"},
		{name: "old primary still writable: fenced first", local: &fakeDB{name: "b", ro: true, replica: running(1), applied: true},
			peer: &fakeDB{name: "a", id: 1, pos: "0-1-10"}, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica", peerLog: "fence"},
		{name: "old primary writable, cannot fence", local: &fakeDB{name: "b", ro: true, replica: running(1), applied: true},
			peer: &fakeDB{name: "a", id: 1, setROErr: errors.New("access denied")}, action: ActionRefused, stillRO: true, wantInMsg: "could not be fenced"},
		{name: "not caught up", local: &fakeDB{name: "b", ro: true, replica: running(1), waitErr: db.ErrGTIDWaitTimeout},
			peer: &fakeDB{name: "a", id: 1, ro: true, pos: "0-1-10"}, action: ActionRefused, stillRO: true, wantInMsg: "has not applied"},
		{name: "unplanned, refuse", local: &fakeDB{name: "b", ro: true, replica: running(1)},
			peer: &fakeDB{name: "a", down: errors.New("connection refused")}, action: ActionRefused, stillRO: true, wantInMsg: "promote --force"},
		{name: "unplanned, no peer dsn", local: &fakeDB{name: "b", ro: true, replica: running(1)},
			action: ActionRefused, stillRO: true, wantInMsg: "peer.mysql_dsn is not set"},
		{name: "unplanned, promote", local: &fakeDB{name: "b", ro: true, replica: running(1)}, peer: &fakeDB{name: "a", down: errors.New("refused")},
			opt: func(o *PromoteOptions) { o.Unplanned = "promote" }, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica", wantInMsg: "UNPLANNED"},
		{name: "unplanned, --force", local: &fakeDB{name: "b", ro: true, replica: running(1)}, peer: &fakeDB{name: "a", down: errors.New("refused")},
			opt: func(o *PromoteOptions) { o.Force = true }, action: ActionPromoted, localLog: "stop-applier,unfence,stop-replica", wantInMsg: "--force"},
		{name: "replicates from a third server", local: &fakeDB{name: "b", ro: true, replica: running(3), applied: true},
			peer: &fakeDB{name: "a", id: 1, ro: true}, action: ActionRefused, stillRO: true, wantInMsg: "unknown primary"},
		{name: "local down", local: &fakeDB{name: "b", down: errors.New("dial")}, peer: &fakeDB{name: "a"}, action: ActionFailed, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opt
			if c.opt != nil {
				c.opt(&o)
			}
			var peer DB
			if c.peer != nil {
				peer = c.peer
			}
			out, err := Promote(context.Background(), c.local, peer, o)
			if out.Action != c.action || (err != nil) != c.wantErr || !strings.Contains(out.Detail, c.wantInMsg) {
				t.Fatalf("got %+v, %v; want %s (err %v) containing %q", out, err, c.action, c.wantErr, c.wantInMsg)
			}
			if got := strings.Join(c.local.log, ","); got != c.localLog {
				t.Fatalf("local did %q, want %q", got, c.localLog)
			}
			if c.peer != nil {
				if got := strings.Join(c.peer.log, ","); got != c.peerLog {
					t.Fatalf("peer did %q, want %q", got, c.peerLog)
				}
			}
			if c.stillRO && !c.local.ro {
				t.Fatal("refusal made the server writable")
			}
		})
	}
}

func TestFenceUndoRestoresOnlyWhatItChanged(t *testing.T) {
	for _, was := range []bool{false, true} {
		db := &fakeDB{name: "a", ro: was, pos: "0-1-5"}
		fr := &Frozen{}
		f := &Fence{Local: db, Timeout: time.Second, Frozen: fr}
		if err := f.Do(context.Background(), io.Discard); err != nil || fr.Position != "0-1-5" || !db.ro {
			t.Fatalf("fence (was %v): %v %+v ro=%v", was, err, fr, db.ro)
		}
		f.Undo(context.Background(), io.Discard)
		if db.ro != was {
			t.Fatalf("undo: read-only %v, was %v before the drain", db.ro, was)
		}
	}
}

func TestCatchUpShowsProgressAndTimesOut(t *testing.T) {
	peer := &fakeDB{name: "b", waitErr: db.ErrGTIDWaitTimeout, replica: running(1)}
	c := &CatchUp{Peer: peer, Timeout: 250 * time.Millisecond, Progress: 50 * time.Millisecond, Frozen: &Frozen{Position: "0-1-9"}}
	var out bytes.Buffer
	start := time.Now()
	err := c.Do(context.Background(), &out)
	if err == nil || !errors.Is(err, db.ErrGTIDWaitTimeout) || !strings.Contains(err.Error(), "has not applied") {
		t.Fatalf("want a timeout, got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("catch-up overran its timeout: %s", time.Since(start))
	}
	if !strings.Contains(out.String(), "waiting") {
		t.Fatalf("no progress shown: %q", out.String())
	}
	// Reached, but the applied set does not contain the position.
	peer = &fakeDB{name: "b"}
	peer.waitErr = nil
	c = &CatchUp{Peer: &lyingDB{peer}, Timeout: time.Second, Frozen: &Frozen{Position: "0-1-9"}}
	if err := c.Do(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), "does not contain") {
		t.Fatalf("want a verification failure, got %v", err)
	}
}

// lyingDB reports a wait reached but never applies anything.
type lyingDB struct{ *fakeDB }

func (l *lyingDB) HasApplied(context.Context, string) (bool, error) { return false, nil }

func TestNotifierOrdersAndRecords(t *testing.T) {
	dir := t.TempDir()
	local := &fakeDB{name: "b", ro: true}
	held := true
	n := &Notifier{Dir: dir, Local: local, FenceTimeout: time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Promote: PromoteOptions{Unplanned: "refuse"}, VIPSettle: time.Millisecond,
		VIP: func() VIPView { return VIPView{Known: true, Held: held} }}
	at := func(d time.Duration) Stamp { return Stamp{BootID: "boot-1", Boottime: time.Hour + d} }
	t0 := time.Now()
	if r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "MASTER", Started: t0, Stamp: at(0)}); err != nil || r.Action != ActionWritable || local.ro {
		t.Fatalf("MASTER: %+v %v", r, err)
	}
	// A BACKUP that started earlier but arrives later, on the node that
	// holds the VIP, is ignored: the newer MASTER is the truth.
	if r, _ := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP", Started: t0, Stamp: at(-time.Millisecond)}); r.Action != ActionIgnored || local.ro {
		t.Fatalf("stale BACKUP with the VIP: %+v ro=%v", r, local.ro)
	}
	rec, ok, err := LoadRecord(dir)
	if !ok || err != nil || rec.Seq != 1 || rec.Action != ActionWritable || rec.ReadOnly == nil || *rec.ReadOnly || rec.Plan != PlanPromote {
		t.Fatalf("record after stale event: %+v %v %v", rec, ok, err)
	}
	// The same stale BACKUP once the VIP is gone fences: a node without the
	// VIP is never writable, however late its event.
	held = false
	if r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP", Started: t0, Stamp: at(-time.Millisecond)}); err != nil || r.Action != ActionFenced || !local.ro || r.Seq != 2 {
		t.Fatalf("stale BACKUP without the VIP: %+v %v", r, err)
	}
	// The record keeps the newest stamp: the MASTER's.
	if rec, _, _ := LoadRecord(dir); rec.Stamp != at(0) || rec.Plan != PlanFence {
		t.Fatalf("record after the stale fence: %+v", rec)
	}
	if r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP", Started: t0, Stamp: at(time.Millisecond)}); err != nil || r.Action != ActionFenced || !local.ro || r.Seq != 3 {
		t.Fatalf("BACKUP: %+v %v", r, err)
	}
}

func TestParseEvent(t *testing.T) {
	if ev, err := ParseEvent([]string{"INSTANCE", "VI_1", "MASTER", "100"}, time.Now()); err != nil || ev.State != "MASTER" || ev.Priority != 100 {
		t.Fatalf("%+v %v", ev, err)
	}
	for _, bad := range [][]string{{"INSTANCE", "VI_1", "MASTER"}, {"X", "VI_1", "MASTER", "1"}, {"GROUP", "G", "LEADER", "1"}, {"INSTANCE", "VI_1", "BACKUP", "300"}} {
		if _, err := ParseEvent(bad, time.Now()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
