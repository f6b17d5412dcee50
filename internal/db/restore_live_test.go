package db

import (
	"testing"
	"time"
)

// RestoreReadOnly puts back a saved fence state exactly, as an undo does.
func TestLiveRestoreReadOnly(t *testing.T) {
	s := node(t)
	hc := open(t, s, hcUser, hcPass, Options{LockWaitTimeout: time.Second})
	ctx := ctxFor(t, 30*time.Second)
	saved, err := hc.ReadOnly(ctx)
	if err != nil || saved.Fenced() || saved.Dialect != MariaDB {
		t.Fatalf("before: %v, %v", saved, err)
	}
	if err := hc.SetReadOnly(ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := hc.RestoreReadOnly(ctx, saved); err != nil {
		t.Fatal(err)
	}
	if got, err := hc.ReadOnly(ctx); err != nil || got != saved {
		t.Fatalf("after restore: %v, %v; want %v", got, err, saved)
	}
	fenced := ReadOnlyState{Dialect: MariaDB, ReadOnly: true}
	if err := hc.RestoreReadOnly(ctx, fenced); err != nil {
		t.Fatal(err)
	}
	if got := s.QueryString(t, "SELECT @@GLOBAL.read_only"); got != "1" {
		t.Fatalf("restore %v: read_only %s", fenced, got)
	}
	// Restoring the state it is in already is fine.
	if err := hc.RestoreReadOnly(ctx, fenced); err != nil {
		t.Fatal(err)
	}
	if err := hc.RestoreReadOnly(ctx, saved); err != nil || s.QueryString(t, "SELECT @@GLOBAL.read_only") != "0" {
		t.Fatalf("restore %v: %v", saved, err)
	}
}
