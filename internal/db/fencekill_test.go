package db

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Rows recorded from MariaDB 10.11 under the hot-row load (primary, then
// replica), and MySQL 8.0 rows as its documentation shows its replication
// and server threads (no MySQL server to record from on this machine).
var (
	mariadbPrimaryRows = []ProcessRow{
		{ID: 41, User: "app", Host: "127.0.0.1:43470", Command: "Sleep", Trx: true}, // open transaction between statements
		{ID: 39, User: "app", Host: "127.0.0.1:43454", Command: "Execute", State: "Updating", Info: "UPDATE txnload.t2 SET k = k + 1 WHERE id = 1", Trx: true},
		{ID: 11, User: "app", Host: "127.0.0.1:43184", Command: "Execute", State: "Updating", Info: "UPDATE txnload.t1 SET c = 'txn-524' WHERE id = 1", Trx: true},
		{ID: 8, User: "app", Host: "127.0.0.1:42676", Command: "Execute", State: "Waiting for backup lock", Info: "INSERT INTO txnload.t2 (id, k, c) VALUES (1, 1, 'ins-69')"},
		{ID: 43, User: "hacheck", Host: "127.0.0.1:43494", Command: "Query", State: "Filling schema table", Info: "SELECT p.ID, ... FROM information_schema.PROCESSLIST p ..."},
		{ID: 44, User: "hacheck", Host: "127.0.0.1:43495", Command: "Query", State: "Waiting for backup lock", Info: "SET GLOBAL read_only = ON"},
		{ID: 37, User: "app", Host: "127.0.0.1:43436", Command: "Sleep"}, // idle, no transaction
		{ID: 5, User: "repl", Host: "127.0.0.1:43112", Command: "Binlog Dump", State: "Master has sent all binlog to slave; waiting for more updates"},
		{ID: 4, User: "root", Host: "localhost", Command: "Sleep"},
		{ID: 50, User: "report", Host: "10.0.0.9:5000", Command: "Query", Time: 12, State: "Sending data", Info: "SELECT COUNT(*) FROM big"},
		{ID: 51, User: "app", Host: "127.0.0.1:43500", Command: "Killed", Info: "UPDATE t SET x = 1", Trx: true},
		{ID: 52, User: "unauthenticated user", Host: "127.0.0.1:43501", Command: "Connect", State: "login"},
	}
	mariadbReplicaRows = []ProcessRow{
		{ID: 6, User: "system user", Command: "Slave_SQL", State: "Slave has read all relay log; waiting for more updates"},
		{ID: 5, User: "system user", Command: "Slave_IO", State: "Waiting for master to send event"},
		{ID: 7, User: "system user", Command: "Slave_worker", State: "Waiting for work from SQL thread", Trx: true},
		{ID: 2, User: "system user", Command: "Daemon", State: "InnoDB purge coordinator"},
		{ID: 4, User: "root", Host: "localhost", Command: "Sleep"},
	}
	mysql8Rows = []ProcessRow{
		{ID: 5, User: "event_scheduler", Host: "localhost", Command: "Daemon", State: "Waiting on empty queue"},
		{ID: 9, User: "system user", Host: "connecting host", Command: "Connect", State: "Waiting for source to send event"},
		{ID: 10, User: "system user", Command: "Query", State: "Replica has read all relay log; waiting for more updates", Trx: true},
		{ID: 11, User: "system user", Command: "Query", State: "Waiting for an event from Coordinator"},
		{ID: 12, User: "repl", Host: "10.0.0.2:41000", Command: "Binlog Dump GTID", State: "Source has sent all binlog to replica; waiting for more updates"},
		{ID: 20, User: "app", Host: "10.0.0.3:50000", Command: "Query", State: "updating", Info: "UPDATE orders SET status = 'paid' WHERE id = 7", Trx: true},
		{ID: 21, User: "app", Host: "10.0.0.3:50001", Command: "Query", State: "Waiting for global read lock", Info: "INSERT INTO orders VALUES (8, 'new')", Trx: true},
		{ID: 22, User: "app", Host: "10.0.0.3:50002", Command: "Sleep", Trx: true},
		{ID: 23, User: "app", Host: "10.0.0.3:50003", Command: "Sleep"},
		{ID: 30, User: "hacheck", Host: "10.0.0.1:40000", Command: "Query", State: "Waiting for global read lock", Info: "SET GLOBAL super_read_only = ON"},
	}
)

func ids(rows []ProcessRow) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}

func TestFenceBlockers(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []ProcessRow
		own  map[int64]bool
		want []int64
	}{
		// Open transactions and running statements of other users; not
		// hacheck's own two connections, the idle ones, the binlog dump,
		// one already killed, one still logging in. A long SELECT of another
		// user is a running statement too (it may be INSERT ... SELECT).
		{"mariadb primary", mariadbPrimaryRows, map[int64]bool{43: true, 44: true}, []int64{8, 11, 39, 41, 50}},
		// hacheck's connections are spared only by id: another hacheck
		// process's running statement is one more blocker.
		{"mariadb primary, other hacheck", mariadbPrimaryRows, map[int64]bool{43: true}, []int64{8, 11, 39, 41, 44, 50}},
		// Replication and server threads, even with a transaction open.
		{"mariadb replica", mariadbReplicaRows, nil, nil},
		{"mysql 8", mysql8Rows, map[int64]bool{30: true}, []int64{20, 21, 22}},
		{"none", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(FenceBlockers(tc.rows, tc.own)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FenceBlockers = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestKilledConnKeeps80Characters(t *testing.T) {
	long := "UPDATE txnload.t1 SET c = '" + strings.Repeat("é", 100) + "' WHERE id = 1"
	k := killedFrom(ProcessRow{ID: 7, User: "app", Host: "h:1", Command: "Query", Time: 3, State: "Updating", Info: long})
	if n := len([]rune(k.Info)); n != 80 || !strings.HasPrefix(long, k.Info) {
		t.Errorf("Info has %d characters: %q", n, k.Info)
	}
	if got := k.String(); !strings.HasPrefix(got, `id 7 app@h:1 Query 3s "Updating": UPDATE txnload.t1`) {
		t.Errorf("String() = %q", got)
	}
}

func TestFenceStatement(t *testing.T) {
	if got := fenceStatement(MariaDB, 2); got != "SET SESSION lock_wait_timeout = 2, GLOBAL read_only = ON" {
		t.Errorf("mariadb: %q", got)
	}
	// MySQL: read_only alone lets SUPER holders write.
	if got := fenceStatement(MySQL, 3); got != "SET SESSION lock_wait_timeout = 3, GLOBAL super_read_only = ON" {
		t.Errorf("mysql: %q", got)
	}
	// KillPendingFences must find it: a killed drain's fence can still be
	// waiting on the server.
	like := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(fenceStatementLike), "%", ".*") + "$")
	for _, d := range []Dialect{MariaDB, MySQL} {
		for _, secs := range []int{1, 30} {
			if q := fenceStatement(d, secs); !like.MatchString(q) {
				t.Errorf("%q does not match KillPendingFences' LIKE %q", q, fenceStatementLike)
			}
		}
	}
	if like.MatchString("SET SESSION lock_wait_timeout = 2, GLOBAL read_only = OFF") {
		t.Errorf("LIKE %q matches an unfence", fenceStatementLike)
	}
	if KillConnection.sql() != "KILL CONNECTION" || KillQuery.sql() != "KILL QUERY" {
		t.Errorf("kill statements %q %q", KillConnection.sql(), KillQuery.sql())
	}
}

func TestFenceStalled(t *testing.T) {
	waiting := ProcessRow{ID: 10, User: "app", Command: "Execute", State: "Updating", Info: "UPDATE t SET c = 1 WHERE id = 2", Trx: true, LockWait: true}
	behind := ProcessRow{ID: 11, User: "app", Command: "Execute", State: "Waiting for backup lock", Info: "UPDATE t SET c = 2 WHERE id = 3", Trx: true}
	for _, tc := range []struct {
		name string
		rows []ProcessRow
		own  map[int64]bool
		want bool
	}{
		{"a row-lock wait and a transaction behind the fence", []ProcessRow{waiting, behind}, nil, true},
		{"MySQL's global read lock", []ProcessRow{waiting, {ID: 11, User: "app", Command: "Query", State: "Waiting for global read lock", Info: "INSERT", Trx: true}}, nil, true},
		{"a row-lock wait alone (its holder may still commit)", []ProcessRow{waiting}, nil, false},
		{"behind the fence without a transaction (holds no row lock)", []ProcessRow{waiting, {ID: 11, User: "app", Command: "Query", State: "Waiting for backup lock", Info: "INSERT"}}, nil, false},
		{"writes behind the fence, none in a row-lock wait", []ProcessRow{behind}, nil, false},
		{"the lock wait is hacheck's own", []ProcessRow{waiting, behind}, map[int64]bool{10: true}, false},
		{"the lock wait is a replication thread's", []ProcessRow{{ID: 10, User: "system user", Command: "Slave_SQL", State: "Updating", Info: "x", Trx: true, LockWait: true}, behind}, nil, false},
		{"an idle transaction in LOCK WAIT state has no statement", []ProcessRow{{ID: 10, User: "app", Command: "Sleep", Trx: true, LockWait: true}, behind}, nil, false},
	} {
		if got := FenceStalled(tc.rows, tc.own); got != tc.want {
			t.Errorf("%s: FenceStalled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKillOrder(t *testing.T) {
	rows := []ProcessRow{
		{ID: 1, Command: "Sleep", Trx: true},                                                     // open transaction, idle
		{ID: 2, Command: "Query", Info: "UPDATE t", State: "Waiting for backup lock", Trx: true}, // behind the fence
		{ID: 3, Command: "Query", Info: "UPDATE t", State: "Updating", Trx: true, LockWait: true},
		{ID: 4, Command: "Sleep", Trx: true, LockWait: true}, // a stale LOCK WAIT without a statement
		{ID: 5, Command: "Query", Info: "UPDATE t", State: "Updating", Trx: true, LockWait: true},
		{ID: 6, Command: "Query", Info: "INSERT t", State: "Update"},                                             // running, no lock wait
		{ID: 7, Command: "Query", Info: "UPDATE t", State: "Waiting for backup lock", Trx: true, LockWait: true}, // behind the fence, LOCK WAIT stale
	}
	var got []int64
	for _, r := range killOrder(rows) {
		got = append(got, r.ID)
	}
	if want := []int64{3, 5, 6, 2, 7, 1, 4}; !slices.Equal(got, want) {
		t.Errorf("killOrder = %v, want %v (row-lock waiters, then running, then behind the fence, then idle transactions; by id)", got, want)
	}
}

func TestFenceStuck(t *testing.T) {
	waiting := ProcessRow{ID: 10, User: "app", Command: "Execute", State: "Updating", Info: "UPDATE t SET c = 1 WHERE id = 2", Trx: true}
	behind := ProcessRow{ID: 11, User: "app", Command: "Execute", State: "Waiting for backup lock", Info: "UPDATE t SET c = 2 WHERE id = 3"}
	again := waiting
	again.Info = "UPDATE t SET c = 1 WHERE id = 4"
	for _, tc := range []struct {
		name      string
		prev, cur []ProcessRow
		own       map[int64]bool
		want      bool
	}{
		{"a statement running on both reads, another behind the fence", []ProcessRow{waiting}, []ProcessRow{waiting, behind}, nil, true},
		{"no read before", nil, []ProcessRow{waiting, behind}, nil, false},
		{"the running statement is a new one on the same connection", []ProcessRow{waiting}, []ProcessRow{again, behind}, nil, false},
		{"nothing behind the fence: it may land by itself", []ProcessRow{waiting}, []ProcessRow{waiting}, nil, false},
		{"behind the fence on both reads, nothing running", []ProcessRow{behind}, []ProcessRow{behind}, nil, false},
		{"the running statement went behind the fence", []ProcessRow{waiting}, []ProcessRow{{ID: 10, User: "app", Command: "Execute", State: "Waiting for backup lock", Info: waiting.Info}, behind}, nil, false},
		{"the running statement is hacheck's own", []ProcessRow{waiting}, []ProcessRow{waiting, behind}, map[int64]bool{10: true}, false},
		{"the running statement is a replication thread's", []ProcessRow{{ID: 10, User: "system user", Command: "Slave_SQL", Info: "x"}}, []ProcessRow{{ID: 10, User: "system user", Command: "Slave_SQL", Info: "x"}, behind}, nil, false},
		{"what waits behind the fence is hacheck's own", []ProcessRow{waiting}, []ProcessRow{waiting, behind}, map[int64]bool{11: true}, false},
	} {
		if got := FenceStuck(tc.prev, tc.cur, tc.own); got != tc.want {
			t.Errorf("%s: FenceStuck = %v, want %v", tc.name, got, tc.want)
		}
	}
}
