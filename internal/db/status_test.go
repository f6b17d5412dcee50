package db

import (
	"database/sql"
	"regexp"
	"strings"
	"testing"
	"time"
)

// recorded turns the vertical (\G) output of the mysql client into column
// names and values, so recorded rows can be pasted as they were printed.
// "NULL" is SQL NULL; a line that does not start with "Name:" continues the
// previous value (MySQL prints long GTID sets over several lines).
func recorded(t *testing.T, dump string) ([]string, []sql.NullString) {
	t.Helper()
	key := regexp.MustCompile(`^([A-Za-z_]+):(?: (.*))?$`)
	var cols []string
	var vals []sql.NullString
	for _, line := range strings.Split(dump, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "***") {
			continue
		}
		if m := key.FindStringSubmatch(line); m != nil {
			cols = append(cols, m[1])
			vals = append(vals, sql.NullString{String: m[2], Valid: m[2] != "NULL"})
			continue
		}
		if len(vals) == 0 {
			t.Fatalf("continuation line before any column: %q", line)
		}
		vals[len(vals)-1].String += "\n" + line
	}
	return cols, vals
}

// MySQL 8.0.36, SHOW REPLICA STATUS (8.0.22+ spellings), healthy.
const mysql80ReplicaHealthy = `
*************************** 1. row ***************************
             Replica_IO_State: Waiting for source to send event
                  Source_Host: 192.0.2.11
                  Source_User: repl
                  Source_Port: 3306
                Connect_Retry: 60
              Source_Log_File: binlog.000004
          Read_Source_Log_Pos: 2731
               Relay_Log_File: relay-bin.000006
                Relay_Log_Pos: 1145
        Relay_Source_Log_File: binlog.000004
           Replica_IO_Running: Yes
          Replica_SQL_Running: Yes
              Replicate_Do_DB:
          Replicate_Ignore_DB:
           Replicate_Do_Table:
       Replicate_Ignore_Table:
      Replicate_Wild_Do_Table:
  Replicate_Wild_Ignore_Table:
                   Last_Errno: 0
                   Last_Error:
                 Skip_Counter: 0
          Exec_Source_Log_Pos: 2731
              Relay_Log_Space: 1355
              Until_Condition: None
               Until_Log_File:
                Until_Log_Pos: 0
           Source_SSL_Allowed: No
           Source_SSL_CA_File:
           Source_SSL_CA_Path:
              Source_SSL_Cert:
            Source_SSL_Cipher:
               Source_SSL_Key:
        Seconds_Behind_Source: 0
Source_SSL_Verify_Server_Cert: No
                Last_IO_Errno: 0
                Last_IO_Error:
               Last_SQL_Errno: 0
               Last_SQL_Error:
  Replicate_Ignore_Server_Ids:
             Source_Server_Id: 11
                  Source_UUID: 73f86016-978b-11ee-ade5-8d2a2a562feb
             Source_Info_File: mysql.slave_master_info
                    SQL_Delay: 0
          SQL_Remaining_Delay: NULL
    Replica_SQL_Running_State: Replica has read all relay log; waiting for more updates
           Source_Retry_Count: 86400
                  Source_Bind:
      Last_IO_Error_Timestamp:
     Last_SQL_Error_Timestamp:
               Source_SSL_Crl:
           Source_SSL_Crlpath:
           Retrieved_Gtid_Set: 73f86016-978b-11ee-ade5-8d2a2a562feb:1-3
            Executed_Gtid_Set: 73f86016-978b-11ee-ade5-8d2a2a562feb:1-3,
8a94f357-aab4-11df-86ab-c80aa9429562:1-5
                Auto_Position: 1
         Replicate_Rewrite_DB:
                 Channel_Name:
           Source_TLS_Version:
       Source_public_key_path:
        Get_Source_public_key: 0
            Network_Namespace:
`

// MySQL 8.0, SHOW SLAVE STATUS (old spellings): the SQL thread stopped on a
// duplicate key, Seconds_Behind_Master NULL.
const mysql80SlaveSQLError = `
*************************** 1. row ***************************
               Slave_IO_State: Waiting for master to send event
                  Master_Host: 192.0.2.11
                  Master_User: repl
                  Master_Port: 3307
                Connect_Retry: 60
              Master_Log_File: binlog.000004
          Read_Master_Log_Pos: 3120
               Relay_Log_File: relay-bin.000006
                Relay_Log_Pos: 1534
        Relay_Master_Log_File: binlog.000004
             Slave_IO_Running: Yes
            Slave_SQL_Running: No
              Replicate_Do_DB:
          Replicate_Ignore_DB:
           Replicate_Do_Table:
       Replicate_Ignore_Table:
      Replicate_Wild_Do_Table:
  Replicate_Wild_Ignore_Table:
                   Last_Errno: 1062
                   Last_Error: Coordinator stopped because there were error(s) in the worker(s). The most recent failure being: Worker 1 failed executing transaction '73f86016-978b-11ee-ade5-8d2a2a562feb:4' at master log binlog.000004, end_log_pos 3089. See error log and/or performance_schema.replication_applier_status_by_worker table for more details about this failure or others, if any.
                 Skip_Counter: 0
          Exec_Master_Log_Pos: 2731
              Relay_Log_Space: 1744
              Until_Condition: None
               Until_Log_File:
                Until_Log_Pos: 0
           Master_SSL_Allowed: No
           Master_SSL_CA_File:
           Master_SSL_CA_Path:
              Master_SSL_Cert:
            Master_SSL_Cipher:
               Master_SSL_Key:
        Seconds_Behind_Master: NULL
Master_SSL_Verify_Server_Cert: No
                Last_IO_Errno: 0
                Last_IO_Error:
               Last_SQL_Errno: 1062
               Last_SQL_Error: Coordinator stopped because there were error(s) in the worker(s). The most recent failure being: Worker 1 failed executing transaction '73f86016-978b-11ee-ade5-8d2a2a562feb:4' at master log binlog.000004, end_log_pos 3089. See error log and/or performance_schema.replication_applier_status_by_worker table for more details about this failure or others, if any.
  Replicate_Ignore_Server_Ids:
             Master_Server_Id: 11
                  Master_UUID: 73f86016-978b-11ee-ade5-8d2a2a562feb
             Master_Info_File: mysql.slave_master_info
                    SQL_Delay: 0
          SQL_Remaining_Delay: NULL
      Slave_SQL_Running_State:
           Master_Retry_Count: 86400
                  Master_Bind:
      Last_IO_Error_Timestamp:
     Last_SQL_Error_Timestamp: 240312 10:01:02
               Master_SSL_Crl:
           Master_SSL_Crlpath:
           Retrieved_Gtid_Set: 73f86016-978b-11ee-ade5-8d2a2a562feb:1-4
            Executed_Gtid_Set: 73f86016-978b-11ee-ade5-8d2a2a562feb:1-3
                Auto_Position: 1
         Replicate_Rewrite_DB:
                 Channel_Name:
           Master_TLS_Version:
       Master_public_key_path:
        Get_master_public_key: 0
            Network_Namespace:
`

// MySQL 8.0, SHOW REPLICA STATUS: the receiver cannot reach its source.
const mysql80ReplicaConnecting = `
             Replica_IO_State: Connecting to source
                  Source_Host: 192.0.2.11
                  Source_User: repl
                  Source_Port: 3306
           Replica_IO_Running: Connecting
          Replica_SQL_Running: Yes
                   Last_Errno: 0
                   Last_Error:
        Seconds_Behind_Source: NULL
                Last_IO_Errno: 2003
                Last_IO_Error: error connecting to master 'repl@192.0.2.11:3306' - retry-time: 60 retries: 3 message: Can't connect to MySQL server on '192.0.2.11:3306' (111)
               Last_SQL_Errno: 0
               Last_SQL_Error:
             Source_Server_Id: 0
           Retrieved_Gtid_Set:
            Executed_Gtid_Set: 73f86016-978b-11ee-ade5-8d2a2a562feb:1-3
                Auto_Position: 1
                 Channel_Name:
`

// MariaDB 10.11.6, SHOW SLAVE STATUS, lagging by 42 s, recorded from this
// project's test servers (then edited for lag).
const mariadb1011SlaveLagging = `
                Slave_IO_State: Waiting for master to send event
                   Master_Host: 127.0.0.1
                   Master_User: repl
                   Master_Port: 39317
                 Connect_Retry: 1
               Master_Log_File: mariadb-bin.000001
           Read_Master_Log_Pos: 1019
                Relay_Log_File: relay-bin.000002
                 Relay_Log_Pos: 1115
         Relay_Master_Log_File: mariadb-bin.000001
              Slave_IO_Running: Yes
             Slave_SQL_Running: Yes
                    Last_Errno: 0
                    Last_Error:
                  Skip_Counter: 0
           Exec_Master_Log_Pos: 814
         Seconds_Behind_Master: 42
 Master_SSL_Verify_Server_Cert: No
                 Last_IO_Errno: 0
                 Last_IO_Error:
                Last_SQL_Errno: 0
                Last_SQL_Error:
   Replicate_Ignore_Server_Ids:
              Master_Server_Id: 39317
                Master_SSL_Crl:
            Master_SSL_Crlpath:
                    Using_Gtid: Slave_Pos
                   Gtid_IO_Pos: 0-39317-4
       Replicate_Do_Domain_Ids:
   Replicate_Ignore_Domain_Ids:
                 Parallel_Mode: optimistic
                     SQL_Delay: 0
           SQL_Remaining_Delay: NULL
       Slave_SQL_Running_State: Update_rows_log_event::find_row(-1) on table t
              Slave_DDL_Groups: 2
Slave_Non_Transactional_Groups: 0
    Slave_Transactional_Groups: 2
          Replicate_Rewrite_DB:
`

func i64(n int64) *int64 { return &n }

func TestParseReplicaStatusRecorded(t *testing.T) {
	tests := []struct {
		name string
		dump string
		want ReplicaStatus
	}{
		{"mysql 8.0 show replica status", mysql80ReplicaHealthy, ReplicaStatus{
			IORunning: "Yes", SQLRunning: "Yes",
			IOState:    "Waiting for source to send event",
			SQLState:   "Replica has read all relay log; waiting for more updates",
			SourceHost: "192.0.2.11", SourcePort: 3306, SourceUser: "repl", SourceServerID: 11,
			SecondsBehind:  i64(0),
			AutoPosition:   true,
			RetrievedGTIDs: "73f86016-978b-11ee-ade5-8d2a2a562feb:1-3",
			ExecutedGTIDs:  "73f86016-978b-11ee-ade5-8d2a2a562feb:1-3,8a94f357-aab4-11df-86ab-c80aa9429562:1-5",
		}},
		{"mysql 8.0 show slave status, sql error", mysql80SlaveSQLError, ReplicaStatus{
			IORunning: "Yes", SQLRunning: "No",
			IOState:      "Waiting for master to send event",
			LastSQLErrno: 1062,
			LastSQLError: "Coordinator stopped because there were error(s) in the worker(s). The most recent failure being: Worker 1 failed executing transaction '73f86016-978b-11ee-ade5-8d2a2a562feb:4' at master log binlog.000004, end_log_pos 3089. See error log and/or performance_schema.replication_applier_status_by_worker table for more details about this failure or others, if any.",
			SourceHost:   "192.0.2.11", SourcePort: 3307, SourceUser: "repl", SourceServerID: 11,
			AutoPosition:   true,
			RetrievedGTIDs: "73f86016-978b-11ee-ade5-8d2a2a562feb:1-4",
			ExecutedGTIDs:  "73f86016-978b-11ee-ade5-8d2a2a562feb:1-3",
		}},
		{"mysql 8.0 connecting", mysql80ReplicaConnecting, ReplicaStatus{
			IORunning: "Connecting", SQLRunning: "Yes",
			IOState:     "Connecting to source",
			LastIOErrno: 2003,
			LastIOError: "error connecting to master 'repl@192.0.2.11:3306' - retry-time: 60 retries: 3 message: Can't connect to MySQL server on '192.0.2.11:3306' (111)",
			SourceHost:  "192.0.2.11", SourcePort: 3306, SourceUser: "repl",
			AutoPosition:  true,
			ExecutedGTIDs: "73f86016-978b-11ee-ade5-8d2a2a562feb:1-3",
		}},
		{"mariadb 10.11 show slave status", mariadb1011SlaveLagging, ReplicaStatus{
			IORunning: "Yes", SQLRunning: "Yes",
			IOState:    "Waiting for master to send event",
			SQLState:   "Update_rows_log_event::find_row(-1) on table t",
			SourceHost: "127.0.0.1", SourcePort: 39317, SourceUser: "repl", SourceServerID: 39317,
			SecondsBehind:  i64(42),
			UsingGTID:      "Slave_Pos",
			RetrievedGTIDs: "0-39317-4",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols, vals := recorded(t, tt.dump)
			got, err := ParseReplicaStatus(cols, vals)
			if err != nil {
				t.Fatal(err)
			}
			if !equalStatus(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
			if !got.UsesGTID() {
				t.Error("UsesGTID() = false")
			}
		})
	}
}

func equalStatus(a, b ReplicaStatus) bool {
	if (a.SecondsBehind == nil) != (b.SecondsBehind == nil) {
		return false
	}
	if a.SecondsBehind != nil && *a.SecondsBehind != *b.SecondsBehind {
		return false
	}
	a.SecondsBehind, b.SecondsBehind = nil, nil
	return a == b
}

func TestParseReplicaStatusBad(t *testing.T) {
	for name, dump := range map[string]string{
		"no io column":      "Master_Host: x\nSlave_SQL_Running: Yes\n",
		"port not a number": "Slave_IO_Running: Yes\nMaster_Port: abc\n",
		"lag not a number":  "Slave_IO_Running: Yes\nSeconds_Behind_Master: soon\n",
	} {
		cols, vals := recorded(t, dump)
		if _, err := ParseReplicaStatus(cols, vals); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ParseReplicaStatus([]string{"a", "b"}, make([]sql.NullString, 1)); err == nil {
		t.Error("column/value count mismatch: no error")
	}
}

func TestEvaluateReplica(t *testing.T) {
	healthy := func() *ReplicaStatus {
		return &ReplicaStatus{IORunning: "Yes", SQLRunning: "Yes", SourceHost: "192.0.2.11", SourcePort: 3306,
			SourceServerID: 11, SecondsBehind: i64(0), UsingGTID: "Slave_Pos"}
	}
	with := func(f func(*ReplicaStatus)) *ReplicaStatus { st := healthy(); f(st); return st }
	parsed := func(dump string) *ReplicaStatus {
		cols, vals := recorded(t, dump)
		st, err := ParseReplicaStatus(cols, vals)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	tests := []struct {
		name   string
		st     *ReplicaStatus
		policy ReplicaPolicy
		ok     bool
		detail string // substring
	}{
		{"not a replica", nil, ReplicaPolicy{}, false, "not a replica"},
		{"healthy", healthy(), ReplicaPolicy{}, true, "IO and SQL threads running, Seconds_Behind=0 (a hint"},
		{"healthy mysql 8.0", parsed(mysql80ReplicaHealthy), ReplicaPolicy{MaxLag: time.Second}, true, "192.0.2.11:3306, server_id 11"},
		{"sql stopped with error", parsed(mysql80SlaveSQLError), ReplicaPolicy{}, false, "replica SQL thread stopped (source 192.0.2.11:3307, server_id 11): Last_SQL_Errno=1062 Last_SQL_Error=\"Coordinator stopped"},
		{"sql stopped cleanly", with(func(s *ReplicaStatus) { s.SQLRunning = "No"; s.SecondsBehind = nil }), ReplicaPolicy{}, false, "replica SQL thread stopped (source 192.0.2.11:3306, server_id 11)"},
		{"io connecting", parsed(mysql80ReplicaConnecting), ReplicaPolicy{}, false, "replica IO thread connecting (source 192.0.2.11:3306, server_id 0): Last_IO_Errno=2003"},
		{"io stopped", with(func(s *ReplicaStatus) { s.IORunning = "No" }), ReplicaPolicy{}, false, "replica IO thread stopped"},
		// MySQL reports the error just before it stops the SQL thread.
		{"sql error while still running", with(func(s *ReplicaStatus) { s.LastSQLErrno = 1062; s.LastSQLError = "dup" }), ReplicaPolicy{}, false, "Last_SQL_Errno=1062"},
		{"stale io error after reconnect", with(func(s *ReplicaStatus) { s.LastIOErrno = 2003; s.LastIOError = "gone" }), ReplicaPolicy{}, true, "last IO error"},
		{"no gtid", with(func(s *ReplicaStatus) { s.UsingGTID = "No" }), ReplicaPolicy{}, false, "does not use GTID positioning"},
		{"no gtid allowed", with(func(s *ReplicaStatus) { s.UsingGTID = "No" }), ReplicaPolicy{AllowNonGTID: true}, true, "running"},
		{"lag over max", parsed(mariadb1011SlaveLagging), ReplicaPolicy{MaxLag: 30 * time.Second}, false, "Seconds_Behind=42 exceeds max 30s"},
		{"lag within max", parsed(mariadb1011SlaveLagging), ReplicaPolicy{MaxLag: time.Minute}, true, "Seconds_Behind=42"},
		{"lag not judged", parsed(mariadb1011SlaveLagging), ReplicaPolicy{}, true, "Seconds_Behind=42"},
		{"lag unknown", with(func(s *ReplicaStatus) { s.SecondsBehind = nil }), ReplicaPolicy{MaxLag: time.Minute}, false, "lag unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, detail := EvaluateReplica(tt.st, tt.policy)
			if ok != tt.ok || !strings.Contains(detail, tt.detail) {
				t.Errorf("got %v %q, want %v containing %q", ok, detail, tt.ok, tt.detail)
			}
		})
	}
}

func TestGlobalPrivileges(t *testing.T) {
	got := GlobalPrivileges([]string{
		"GRANT SLAVE MONITOR, READ_ONLY ADMIN, PROCESS ON *.* TO `hacheck`@`%` IDENTIFIED BY PASSWORD '*ABC'",
		"GRANT SELECT ON `app`.* TO `hacheck`@`%`",
		"grant all privileges on *.* to `root`@`localhost` WITH GRANT OPTION",
	})
	if strings.Join(got, "|") != "SLAVE MONITOR|READ_ONLY ADMIN|PROCESS|ALL PRIVILEGES" {
		t.Errorf("GlobalPrivileges = %q", got)
	}
}
