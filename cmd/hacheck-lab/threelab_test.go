package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/lab"
)

// TestThreeExampleConfig: examples/hacheck-three.yaml as shipped is a
// valid hacheck configuration with two peers, and rendered for each node
// of a three-node lab (as `up --nodes 3` and the three-node scenarios do)
// it is one too, naming that node and the other two as its peers. A
// rendering over an example that lost a key it sets fails.
func TestThreeExampleConfig(t *testing.T) {
	path, err := lab.RepoFile(threeExample)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%s as shipped: %v", threeExample, err)
	}
	if len(cfg.Peers) != 2 || cfg.Node != "node-a" || !cfg.Admin.Enabled {
		t.Errorf("%s: node %q, %d peers, admin %v; want node-a with 2 peers and the admin API", threeExample, cfg.Node, len(cfg.Peers), cfg.Admin.Enabled)
	}
	dir := t.TempDir()
	l, err := lab.LayoutN(dir, "three", 3)
	if err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(token, []byte(strings.Repeat("x", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Keepalived() {
		conf, err := renderThreeHacheckYAML(src, l, n, token)
		if err != nil {
			t.Fatalf("render for %s: %v", n.Name, err)
		}
		if err := os.MkdirAll(filepath.Join(n.Dir, "preconditions.d"), 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, n.Name+".yaml")
		if err := os.WriteFile(file, conf, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file)
		if err != nil {
			t.Fatalf("rendered for %s: %v\n%s", n.Name, err, conf)
		}
		var peers, want []string
		for _, p := range cfg.Peers {
			peers = append(peers, p.Name)
		}
		for _, m := range l.Keepalived() {
			if m != n {
				want = append(want, m.Name)
			}
		}
		if cfg.Node != n.Name || !slices.Equal(peers, want) || cfg.StateDir != n.StateDir || cfg.Admin.TokenFile != token {
			t.Errorf("rendered for %s: node %q, peers %v, state_dir %q, token %q; want %s, %v, %s, %s", n.Name, cfg.Node, peers, cfg.StateDir, cfg.Admin.TokenFile, n.Name, want, n.StateDir, token)
		}
	}
	if _, err := renderThreeHacheckYAML([]byte(strings.Replace(string(src), "admin:", "nimda:", 1)), l, l.A, token); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("render of an example without admin: err = %v, want one naming admin", err)
	}
}
