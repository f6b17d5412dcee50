package galeratest

import (
	"testing"
	"time"
)

func TestClusterReplicates(t *testing.T) {
	c := Start(t, Options{})
	g1, g3 := c.Nodes[0], c.Nodes[2]
	g1.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1), (2)")
	// A commit on g1 returns once it is certified; g3 applies it just
	// after. SET GLOBAL wsrep_sync_wait reaches only new sessions (and the
	// pool may reuse an old one), so wait for the rows instead.
	var got string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		// The table itself may not be there yet: an error is a retry.
		if v, err := g3.QueryStringContext(Context(t, 5*time.Second), "SELECT COUNT(*) FROM app.t"); err == nil {
			if got = v; got == "2" {
				break
			}
		}
	}
	if got != "2" {
		t.Errorf("g3 sees %s rows after 10 s, want 2", got)
	}
	ctx := Context(t, time.Minute)
	if got, err := g3.Status(ctx, "wsrep_cluster_size"); err != nil || got != "3" {
		t.Errorf("wsrep_cluster_size on g3 = %q, %v; want 3", got, err)
	}
}
