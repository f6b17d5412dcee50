package galeratest

import (
	"testing"
	"time"
)

func TestClusterReplicates(t *testing.T) {
	c := Start(t, Options{})
	g1, g3 := c.Nodes[0], c.Nodes[2]
	g1.Exec(t, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY)", "INSERT INTO app.t VALUES (1), (2)")
	// Galera applies on commit everywhere before the commit returns to g1
	// only up to certification; wsrep_sync_wait makes the read wait.
	g3.Exec(t, "SET GLOBAL wsrep_sync_wait = 1")
	if got := g3.QueryString(t, "SELECT COUNT(*) FROM app.t"); got != "2" {
		t.Errorf("g3 sees %s rows, want 2", got)
	}
	ctx := Context(t, time.Minute)
	if got, err := g3.Status(ctx, "wsrep_cluster_size"); err != nil || got != "3" {
		t.Errorf("wsrep_cluster_size on g3 = %q, %v; want 3", got, err)
	}
}
