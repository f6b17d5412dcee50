package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const threePeers = `node: node-a
admin: {enabled: true, token_file: /etc/hacheck/admin.token}
peers:
  - name: node-b
    url: http://192.0.2.12:8530
    mysql_dsn: "hacheck:pw@tcp(192.0.2.12:3306)/"
  - name: node-c
    url: http://192.0.2.14:8530
    mysql_dsn: "hacheck@tcp(192.0.2.14:3306)/"
    mysql_password_file: PWFILE
peer_timeout: 3s
`

func TestPeersList(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("c-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(writeConfig(t, strings.Replace(threePeers, "PWFILE", pw, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Peers) != 2 || cfg.Peers[0].Name != "node-b" || cfg.Peers[1].Name != "node-c" {
		t.Fatalf("peers: %+v", cfg.Peers)
	}
	if cfg.Peer.URL != "" || cfg.Peer.MySQLDSN.IsSet() {
		t.Errorf("with several peers, Peer must stay zero: %+v", cfg.Peer)
	}
	c, ok := cfg.PeerNamed("node-c")
	if !ok || c.Timeout != 3*time.Second || c.URL != "http://192.0.2.14:8530" || c.MySQLDSN.Driver().Passwd != "c-secret" {
		t.Errorf("node-c: %+v (password %q)", c, c.MySQLDSN.Driver().Passwd)
	}
	if strings.Contains(c.MySQLDSN.String(), "c-secret") {
		t.Errorf("DSN shows its password: %s", c.MySQLDSN)
	}
}

// A peers: list of one is the pair, exactly as peer: gives it.
func TestPeersListOfOneIsThePair(t *testing.T) {
	cfg, err := Load(writeConfig(t, "node: a\npeers: [{name: b, url: 'http://192.0.2.12:8530', mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Peer.Name != "b" || cfg.Peer.URL != "http://192.0.2.12:8530" || !cfg.Peer.MySQLDSN.IsSet() || cfg.Peer.Timeout != 2*time.Second {
		t.Fatalf("peer: %+v", cfg.Peer)
	}
	cfg, err = Load(writeConfig(t, "node: a\npeer: {url: 'http://192.0.2.12:8530', timeout: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Peers) != 1 || cfg.Peers[0].Name != "" || cfg.Peers[0].Timeout != time.Second {
		t.Fatalf("peer: as a list: %+v", cfg.Peers)
	}
}

func TestPeersErrors(t *testing.T) {
	entry := func(name string) string {
		return "{name: " + name + ", url: 'http://192.0.2.12:8530', mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/'}"
	}
	admin := "admin: {enabled: true, token_file: /x}\n"
	cases := []struct {
		name, body string
		want       []string
	}{
		{"both forms", "peer: {url: 'http://192.0.2.9:8530'}\npeers: [" + entry("b") + "]\n", []string{"peers: set together with peer:"}},
		{"duplicate", admin + "peers: [" + entry("b") + ", " + entry("b") + "]\n", []string{"peers[1] (b).name", "listed twice"}},
		{"own name", "peers: [" + entry("a") + "]\n", []string{"peers[0] (a).name", "this node's own name"}},
		{"no name", "peers: [{url: 'http://192.0.2.12:8530', mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/'}]\n", []string{"peers[0].name: empty"}},
		{"no url", "peers: [{name: b, mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/'}]\n", []string{"peers[0] (b).url: empty"}},
		{"no dsn", "peers: [{name: b, url: 'http://192.0.2.12:8530'}]\n", []string{"peers[0] (b).mysql_dsn: empty"}},
		{"bad url", "peers: [{name: b, url: '192.0.2.12:8530', mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/'}]\n", []string{"peers[0] (b).url", "not an http(s) URL"}},
		{"typo", "peers: [{name: b, url: 'http://192.0.2.12:8530', mysql_dns: x}]\n", []string{"peers[0].mysql_dns", "did you mean mysql_dsn"}},
		{"not a list", "peers: node-b\n", []string{"peers: must be a list"}},
		{"several without the token", "peers: [" + entry("b") + ", " + entry("c") + "]\n", []string{"admin.token_file"}},
		{"password twice", "peers: [{name: b, url: 'http://192.0.2.12:8530', mysql_dsn: 'u:p@tcp(192.0.2.12:3306)/', mysql_password_file: /nonexistent/pw}]\n", []string{"peers[0] (b).mysql_password_file"}},
		{"drain too long for the holds", admin + "drain: {timeout: 5m}\npeers: [" + entry("b") + ", " + entry("c") + "]\n", []string{"drain.timeout", "at most 295s"}},
		{"drain too short for the unfenced catch-up", admin + "mysql: {dsn: 'u:p@tcp(127.0.0.1:3306)/'}\ndrain: {timeout: 16s, catchup_timeout: 10s}\npeers: [" + entry("b") + ", " + entry("c") + "]\n", []string{"drain.timeout", "1.5 x drain.catchup_timeout (10s) = 19s"}},
		{"bad peer_timeout", "peer_timeout: soon\n", []string{"peer_timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantLoadError(t, "node: a\n"+c.body, c.want) })
	}
}

// A bad entry is reported at its line in the file.
func TestPeersErrorNamesTheLine(t *testing.T) {
	f := writeConfig(t, "node: a\npeers:\n  - name: b\n    url: http://192.0.2.12:8530\n    mysql_dsn: nonsense\n")
	_, err := Load(f)
	if err == nil || !strings.Contains(err.Error(), f+":5: peers[0] (b).mysql_dsn") {
		t.Fatalf("error: %v", err)
	}
}

// A world-readable file with passwords in mysql.dsn and in a peer's
// mysql_dsn is one problem, reported once.
func TestPasswordInReadableFileWarnedOnce(t *testing.T) {
	body := "mysql: {dsn: 'hacheck:pw@tcp(127.0.0.1:3306)/'}\n" + strings.Replace(threePeers, "    mysql_password_file: PWFILE\n", "", 1)
	cfg, err := Load(writeConfig(t, body))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range cfg.Warnings {
		if strings.Contains(w, "holds a password") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d warnings about the passwords in the file, want 1: %q", n, cfg.Warnings)
	}
}
