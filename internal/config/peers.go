package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// The other nodes come in one of two forms:
//
//	peer: {url: ..., mysql_dsn: ..., timeout: 2s}        # a pair: the one peer
//	peers:                                               # a group of three or more
//	  - {name: node-b, url: ..., mysql_dsn: ..., mysql_password_file: ...}
//	  - {name: node-c, url: ..., mysql_dsn: ...}
//	peer_timeout: 2s                                     # bound of each call to any peer
//
// Both together is an error. Each entry of peers needs name (that node's
// `node:`, verified against its /status when it is used), url and
// mysql_dsn; names are unique and none is this node's. Config.Peers holds
// every peer either way; Config.Peer the one peer when there is exactly
// one, so that a pair behaves exactly as before.

var rawPeerKeys = []string{"name", "url", "mysql_dsn", "mysql_password_file"}

func loadPeers(v *viper.Viper, cfg *Config, timeout time.Duration, bad func(key, format string, a ...any)) {
	raw := v.Get("peers")
	if raw == nil {
		if cfg.Peer.URL != "" || cfg.Peer.MySQLDSN.IsSet() {
			cfg.Peers = []Peer{cfg.Peer}
		}
		return
	}
	list, ok := raw.([]any)
	if !ok {
		bad("peers", "must be a list of peers (each with name, url and mysql_dsn)")
		return
	}
	if cfg.Peer.URL != "" || cfg.Peer.MySQLDSN.IsSet() || strings.TrimSpace(v.GetString("peer.mysql_password_file")) != "" {
		bad("peers", "set together with peer: keep one of the two (peer: for the one peer of a pair, peers: for a list)")
		return
	}
	if len(list) == 0 {
		bad("peers", "empty (list the other nodes, or remove the setting)")
		return
	}
	seen := map[string]bool{}
	holds := false
	for i, item := range list {
		key := fmt.Sprintf("peers[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			bad(key, "must be a mapping with name, url and mysql_dsn")
			continue
		}
		str := listEntry(bad, key, m, rawPeerKeys)
		p := Peer{Name: str("name"), URL: str("url"), Timeout: timeout}
		if p.Name != "" {
			key = fmt.Sprintf("peers[%d] (%s)", i, p.Name)
		}
		switch {
		case p.Name == "":
			bad(key+".name", "empty (write that node's `node:` name, e.g. node-b)")
		case p.Name == cfg.Node:
			bad(key+".name", "%q is this node's own name (node:); list only the other nodes", p.Name)
		case seen[p.Name]:
			bad(key+".name", "%q is listed twice (names must be unique)", p.Name)
		}
		seen[p.Name] = true
		if p.URL == "" {
			bad(key+".url", "empty (write that node's hacheck base URL, e.g. http://192.0.2.12:8530)")
		} else {
			checkPeerURL(bad, key+".url", p.URL)
		}
		dsn := str("mysql_dsn")
		if dsn == "" {
			bad(key+".mysql_dsn", "empty (write that node's server, e.g. hacheck:PASSWORD@tcp(192.0.2.12:3306)/)")
		}
		p.MySQLDSN = parseDSN(bad, key+".mysql_dsn", dsn)
		if p.MySQLDSN.IsSet() && p.MySQLDSN.parsed.Passwd != "" {
			holds = true
		}
		if pw, ok := readSecret(cfg, bad, key+".mysql_password_file", str("mysql_password_file")); ok {
			switch {
			case !p.MySQLDSN.IsSet():
				bad(key+".mysql_password_file", "set, but mysql_dsn is not (the password belongs to that DSN)")
			case p.MySQLDSN.parsed.Passwd != "":
				bad(key+".mysql_password_file", "set, but mysql_dsn already has a password (keep one of the two)")
			default:
				p.MySQLDSN.parsed.Passwd = pw
			}
		}
		cfg.Peers = append(cfg.Peers, p)
	}
	if holds {
		warnFileHoldsPassword(cfg)
	}
	if len(cfg.Peers) == 1 {
		cfg.Peer = cfg.Peers[0]
	}
}

func checkPeerURL(bad func(key, format string, a ...any), key, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad(key, "%q is not an http(s) URL (write the peer's hacheck base URL, e.g. http://192.0.2.12:8530)", s)
	}
}

// peerTimeout bounds one call to a peer: peer.timeout for the `peer:`
// form, peer_timeout for `peers:`.
func (c *Config) peerTimeout() time.Duration {
	if len(c.Peers) > 0 {
		return c.Peers[0].Timeout
	}
	return c.Peer.Timeout
}

// PeerTimeout is peerTimeout, for the composition root.
func (c *Config) PeerTimeout() time.Duration { return c.peerTimeout() }

// PeerNamed is the peer listed with name, and whether there is one.
func (c *Config) PeerNamed(name string) (Peer, bool) {
	for _, p := range c.Peers {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}
