package config

import (
	"strings"
	"testing"
)

func TestGaleraCheck(t *testing.T) {
	cfg, err := Load(writeConfig(t, `
node: a
mysql: {dsn: "hacheck:secret@tcp(127.0.0.1:3306)/"}
checks:
  - {name: g, type: galera}
  - {name: g2, type: galera, dsn: "mon:x@tcp(192.0.2.21:3306)/", donor_ok: true, read_only_ok: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, g2 := cfg.Checks[0], cfg.Checks[1]
	if g.DSN.String() != cfg.MySQL.DSN.String() || g.DonorOK || !g.ReadOnlyOK {
		t.Errorf("defaults: %+v (want mysql.dsn, donor_ok false, read_only_ok true)", g)
	}
	if g2.DSN.String() != "mon:***@tcp(192.0.2.21:3306)/" || !g2.DonorOK || g2.ReadOnlyOK {
		t.Errorf("set: %+v", g2)
	}
}

func TestGaleraCheckErrors(t *testing.T) {
	for body, want := range map[string][]string{
		"checks: [{name: g, type: galera}]\n":                                        {"checks[0] (g).dsn", "mysql.dsn"},
		"checks: [{name: g, type: galera, dsn: 'u:p@tcp(h:1)/', donor_ok: maybe}]\n": {"checks[0] (g).donor_ok", `"maybe"`},
		"checks: [{name: g, type: galera, dsn: 'u:p@tcp(h:1)/', read_only_ok: 2}]\n": {"checks[0] (g).read_only_ok"},
	} {
		_, err := Load(writeConfig(t, "node: a\n"+body))
		if err == nil {
			t.Errorf("%s: no error", body)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
}

func TestGaleraSection(t *testing.T) {
	cfg, err := Load(writeConfig(t, "node: a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Galera.DSN.IsSet() || cfg.Galera.MinSyncedOthers != 1 || cfg.Galera.TransitionPeriod.String() != "5s" {
		t.Errorf("defaults: %+v", cfg.Galera)
	}
	cfg, err = Load(writeConfig(t, `
node: a
galera: {min_synced_others: 2, transition_period: 10s}
checks: [{name: g, type: galera, dsn: "m:x@tcp(192.0.2.21:3306)/"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Galera.DSN.String() != "m:***@tcp(192.0.2.21:3306)/" || cfg.Galera.MinSyncedOthers != 2 || cfg.Galera.TransitionPeriod.String() != "10s" {
		t.Errorf("set: %+v", cfg.Galera)
	}
	_, err = Load(writeConfig(t, "node: a\ngalera: {min_synced_others: -1, transition_period: soon}\n"))
	if err == nil || !strings.Contains(err.Error(), "galera.min_synced_others") || !strings.Contains(err.Error(), "galera.transition_period") {
		t.Errorf("bad values: %v", err)
	}
}
