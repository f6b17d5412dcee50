package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/mariadbd"
)

// threeExample is the hacheck.yaml every node of a three-node lab is
// rendered from.
const threeExample = "examples/hacheck-three.yaml"

// writeThreeHacheckConfigs writes each node's hacheck.yaml of a three-node
// lab from examples/hacheck-three.yaml, and the admin token the nodes share
// (a move holds the other nodes back through their admin API).
func writeThreeHacheckConfigs(l *lab.Lab) error {
	path, err := lab.RepoFile(threeExample)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on Linux
	token := hex.EncodeToString(b)
	for _, n := range l.Keepalived() {
		tokenFile := filepath.Join(n.Dir, "admin.token")
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			return fmt.Errorf("write admin token of %s: %w", n.Name, err)
		}
		conf, err := renderThreeHacheckYAML(src, l, n, tokenFile)
		if err != nil {
			return err
		}
		// It holds passwords: 0600 (WriteFile keeps the mode of the
		// file lab.New wrote).
		err = os.WriteFile(n.HacheckConfig, conf, 0o600)
		if err == nil {
			err = os.Chmod(n.HacheckConfig, 0o600)
		}
		if err != nil {
			return fmt.Errorf("write hacheck config of %s: %w", n.Name, err)
		}
	}
	return nil
}

// renderThreeHacheckYAML is src (examples/hacheck-three.yaml, written for
// node-a) rendered for the lab node n, the way an operator adapts it on
// each node: its name, server and peers (the other two nodes), plus the
// lab's paths, VIP and accounts. Every other key is the example's as
// written, so the lab runs what the example says. A key the example no
// longer has is an error: the rendering would silently add it.
func renderThreeHacheckYAML(src []byte, l *lab.Lab, n *lab.Node, tokenFile string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("render %s: %w", threeExample, err)
	}
	dsn := func(m *lab.Node) string {
		return dsnFor(fmt.Sprintf("%s:%d", m.Addr.Addr(), mysqlPort), hacheckUser, hacheckPass)
	}
	var peers []any
	for _, p := range l.Keepalived() {
		if p != n {
			peers = append(peers, map[string]any{
				"name": p.Name, "url": fmt.Sprintf("http://%s:8530", p.Addr.Addr()), "mysql_dsn": dsn(p),
			})
		}
	}
	set := map[string]map[string]any{
		"": {
			"node": n.Name, "state_dir": n.StateDir, "peers": peers,
		},
		"vip":         {"address": lab.VIP.String(), "interface": "eth0"},
		"mysql":       {"dsn": dsn(n)},
		"admin":       {"token_file": tokenFile, "socket": filepath.Join(n.Dir, "admin.sock")},
		"replication": {"user": mariadbd.ReplUser, "password": mariadbd.ReplPassword},
		"keepalived":  {"config": n.KeepalivedConf},
	}
	for section, kv := range set {
		m := doc
		if section != "" {
			sub, ok := doc[section].(map[string]any)
			if !ok {
				return nil, fmt.Errorf("render %s: no %s: section", threeExample, section)
			}
			m = sub
		}
		for k, v := range kv {
			if _, ok := m[k]; !ok {
				return nil, fmt.Errorf("render %s: no %s in %q", threeExample, k, section)
			}
			m[k] = v
		}
	}
	// Not in the example (operators keep the default): the lab's own.
	doc["preconditions_dir"] = filepath.Join(n.Dir, "preconditions.d")
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", threeExample, err)
	}
	return out, nil
}

// printThreeUp tells the operator how to use a three-node lab.
func printThreeUp(w io.Writer, l *lab.Lab, ns func(*lab.Node) string) {
	fmt.Fprintf(w, `lab %[1]s is up: a (%[2]s) holds the VIP %[5]s and its MariaDB is the primary; b (%[3]s, priority %[14]d) and d (%[4]s, priority %[15]d) replicate from it.
(d is the third database node; c is the client namespace.)

  status of a node:       %[6]s %[7]s status --config %[8]s
  move to d, past b:      %[6]s %[7]s drain --to d --reason try --config %[8]s
  move to the best one:   %[6]s %[7]s drain --reason try --config %[8]s   (prints "successor: ...")
  then undrain a:         %[6]s %[7]s undrain --config %[8]s
  from the client:        %[9]s mariadb -h %[10]s -u %[11]s -p%[12]s demo
  whole lab:              hacheck-lab status        (who holds the VIP, read_only)
  keepalived log of a:    %[13]s
  tear down:              hacheck-lab down

(b and d: the same commands in hacheck-%[1]s-b and hacheck-%[1]s-d, with their own --config under %[16]s/{b,d}/)
`, l.ID, l.A.Addr.Addr(), l.B.Addr.Addr(), l.D.Addr.Addr(), lab.VIP, ns(l.A), l.A.Hacheck, l.A.HacheckConfig,
		ns(l.Client), lab.VIP.Addr(), appUser, appPass, l.A.KeepalivedLog, l.B.Priority, l.D.Priority, l.Dir)
}
