// Package config loads hacheck's configuration into one typed, validated
// Config. Precedence: environment (HACHECK_ + key in upper case, "." as "_")
// over the YAML file over built-in defaults. Every problem is reported at
// once, each naming the key, what was wrong and what to write instead.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/hacheck/hacheck/internal/db"
)

// DefaultFile is read when no --config is given and it exists.
const DefaultFile = "/etc/hacheck/hacheck.yaml"

// Config is everything hacheck needs to know, validated.
type Config struct {
	File string // the file that was read; "" when only defaults/env apply

	Node      string
	StateDir  string
	Listen    string
	LogLevel  slog.Level
	LogFormat string // text or json
	// Warnings are problems that do not stop hacheck but that an operator
	// must hear of (a config file holding a password that others can
	// read); the caller logs them.
	Warnings            []string
	CheckTimeout        time.Duration // deadline of `hacheck check` as a whole
	StaleAfter          int           // `serve`: a cached result older than this many intervals counts as failed
	Checks              []Check
	PreconditionsDir    string
	PreconditionTimeout time.Duration

	VIP   VIP
	MySQL MySQL
	// Peer is the one peer of a pair: from `peer:`, or from a `peers:`
	// list of one entry. With several peers it is the zero Peer and
	// Peers carries them.
	Peer Peer
	// Peers is every other node: `peers:` as written, or `peer:` as a
	// list of one (its Name then is ""). Empty: no peer configured.
	Peers       []Peer
	Replication Replication
	Drain       Drain
	Promote     Promote
	Admin       Admin
	Agent       Agent
	Galera      Galera
	Keepalived  Keepalived
}

// Galera is what drain and undrain do on a Galera node: on when a check of
// type galera is configured, on that check's server.
type Galera struct {
	DSN              DSN           // the first galera check's dsn; unset = not a Galera node
	MinSyncedOthers  int           // drain: other Synced members needed
	TransitionPeriod time.Duration // drain: wait after the flip before "can be stopped"
}

// Keepalived is what hacheck reads of keepalived's own configuration.
type Keepalived struct {
	// Config is keepalived.conf, read by `serve` at start to warn about
	// settings that slow a move down ("" = do not look).
	Config string
}

// DefaultKeepalivedConfig is where keepalived reads its configuration.
const DefaultKeepalivedConfig = "/etc/keepalived/keepalived.conf"

// Check is one configured live check.
type Check struct {
	Name       string
	Type       string // tcp, http, exec, mysql, galera
	Address    string // tcp: host:port
	URL        string // http
	Command    []string
	Mode       string // mysql: alive or replica
	MaxLag     time.Duration
	DSN        DSN  // mysql, galera: defaults to mysql.dsn
	DonorOK    bool // galera: a donor of a state transfer passes
	ReadOnlyOK bool // galera: a read_only node passes (default true)
	Timeout    time.Duration
	Interval   time.Duration // how often `serve` runs it
}

// VIP is the virtual address this node may hold.
type VIP struct {
	Address   netip.Prefix // zero when not configured
	Interface string
}

// Configured reports whether a VIP is set.
func (v VIP) Configured() bool { return v.Address.IsValid() }

// MySQL is this node's database server.
type MySQL struct {
	DSN          DSN
	QueryTimeout time.Duration
	FenceTimeout time.Duration
	// FenceGrace is how long the fence may wait for running writes before
	// it kills what holds it up (FenceKill), and again after each round.
	FenceGrace time.Duration
	// FenceKill: kill what holds the fence up after FenceGrace, within
	// FenceTimeout; false refuses the drain when the fence times out.
	FenceKill bool
}

// Peer is another node of the group.
type Peer struct {
	// Name is that node's `node:` (peers: entries; verified against its
	// /status); "" for the one-peer `peer:` form.
	Name     string
	URL      string
	MySQLDSN DSN
	Timeout  time.Duration
}

// Replication is the account a node uses to follow its peer after a move
// (`drain --follow`): CHANGE MASTER TO ... MASTER_USER, MASTER_PASSWORD.
type Replication struct {
	User     string
	Password string
}

// Admin is the HTTP admin API of `serve` (POST /v1/drain, /v1/undrain).
// Off unless Enabled; then it needs TokenFile (a bearer token, the file
// readable by its owner only) or Socket (a unix socket guarded by file
// permissions), or both.
type Admin struct {
	Enabled   bool
	TokenFile string
	Socket    string
}

// Agent is the optional HAProxy agent-check listener of `serve`.
type Agent struct {
	Listen string // "" = off
}

// Drain bounds `hacheck drain`.
type Drain struct {
	Timeout        time.Duration
	CatchupTimeout time.Duration
	// AnswerFor is how long, after the VIP has left this node, its own
	// stack still answers TCP to the VIP (internal/answer); 0 = off.
	AnswerFor time.Duration
}

// Promote says what `hacheck notify` does on MASTER.
type Promote struct {
	Unplanned string // refuse or promote
}

// Check types.
const (
	TypeTCP    = "tcp"
	TypeHTTP   = "http"
	TypeExec   = "exec"
	TypeMySQL  = "mysql"
	TypeGalera = "galera"
)

var checkTypes = []string{TypeTCP, TypeHTTP, TypeExec, TypeMySQL, TypeGalera}

// defaults lists every scalar key with its default. Declaring each key here
// is also what lets HACHECK_* environment variables override it.
func defaults() map[string]any {
	host, _ := os.Hostname()
	return map[string]any{
		"node":                      host,
		"state_dir":                 "/var/lib/hacheck",
		"listen":                    ":8530",
		"log_level":                 "info",
		"log_format":                "text",
		"check_timeout":             "2s",
		"stale_after":               3,
		"preconditions_dir":         "",
		"precondition_timeout":      "30s",
		"vip.address":               "",
		"vip.interface":             "",
		"mysql.dsn":                 "",
		"mysql.query_timeout":       "1s",
		"mysql.fence_timeout":       "2s",
		"mysql.fence_grace":         "300ms",
		"mysql.fence_kill":          true,
		"peer.url":                  "",
		"peer.mysql_dsn":            "",
		"peer.timeout":              "2s",
		"peer_timeout":              "2s",
		"drain.timeout":             "30s",
		"drain.catchup_timeout":     "10s",
		"drain.answer_for":          "3s",
		"promote.unplanned":         "refuse",
		"replication.user":          "",
		"replication.password":      "",
		"replication.password_file": "",
		"mysql.password_file":       "",
		"peer.mysql_password_file":  "",
		"admin.enabled":             false,
		"admin.token_file":          "",
		"admin.socket":              "",
		"agent.listen":              "",
		"galera.min_synced_others":  1,
		"galera.transition_period":  "5s",
		"keepalived.config":         DefaultKeepalivedConfig,
	}
}

// Defaults for each live check.
const (
	DefaultCheckTimeout  = time.Second
	DefaultCheckInterval = 2 * time.Second
)

// Load reads the configuration. file is the --config value: "" means
// DefaultFile if it exists, else defaults only; a named file that does not
// exist is an error.
func Load(file string) (*Config, error) {
	v := viper.New()
	for k, d := range defaults() {
		v.SetDefault(k, d)
	}
	v.SetEnvPrefix("HACHECK")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	cfg := &Config{}
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	} else if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("config file %s: %w (check the --config path)", file, unwrapPath(err))
	}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, yamlError(file, err)
		}
		cfg.File = file
	}

	var errs []error
	src := loadSources(cfg.File)
	bad := func(key, format string, a ...any) {
		msg := fmt.Sprintf("%s: %s", key, fmt.Sprintf(format, a...))
		if where := src.of(key); where != "" {
			msg = where + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	for _, k := range unknownKeys(v) {
		bad(k, "%s", unknownKeyHint(k, knownKeys()))
	}

	dur := func(key string) time.Duration {
		s := strings.TrimSpace(v.GetString(key))
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			bad(key, "%q is not a positive duration (write e.g. 500ms, 2s, 1m)", s)
			return 0
		}
		return d
	}

	cfg.Node = strings.TrimSpace(v.GetString("node"))
	if cfg.Node == "" {
		bad("node", "empty (set a name for this node, e.g. its hostname)")
	}
	cfg.StateDir = v.GetString("state_dir")
	if !filepath.IsAbs(cfg.StateDir) {
		bad("state_dir", "%q is not an absolute path (keepalived, serve and the CLI must agree on it; write e.g. /var/lib/hacheck)", cfg.StateDir)
	}
	cfg.Listen = v.GetString("listen")
	if err := checkHostPort(cfg.Listen, 0); err != nil {
		bad("listen", "%q: %v (write host:port, e.g. :8530 or 127.0.0.1:8530)", cfg.Listen, err)
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(v.GetString("log_level"))); err != nil {
		bad("log_level", "%q is not debug, info, warn or error", v.GetString("log_level"))
	}
	cfg.LogFormat = strings.ToLower(strings.TrimSpace(v.GetString("log_format")))
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		bad("log_format", "%q is not text or json", v.GetString("log_format"))
	}
	cfg.CheckTimeout = dur("check_timeout")
	cfg.StaleAfter = v.GetInt("stale_after")
	if n, err := strconv.Atoi(v.GetString("stale_after")); err != nil || n < 1 {
		bad("stale_after", "%q is not a whole number of intervals >= 1", v.GetString("stale_after"))
	}
	cfg.PreconditionsDir = v.GetString("preconditions_dir")
	if cfg.PreconditionsDir != "" {
		if fi, err := os.Stat(cfg.PreconditionsDir); err != nil {
			bad("preconditions_dir", "%v (create it or remove the setting)", unwrapPath(err))
		} else if !fi.IsDir() {
			bad("preconditions_dir", "%s is not a directory", cfg.PreconditionsDir)
		}
	}
	cfg.PreconditionTimeout = dur("precondition_timeout")

	cfg.VIP.Interface = v.GetString("vip.interface")
	if a := strings.TrimSpace(v.GetString("vip.address")); a != "" {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			bad("vip.address", "%q is not an address with a prefix length (write e.g. 192.0.2.100/24)", a)
		} else {
			cfg.VIP.Address = p
		}
		if cfg.VIP.Interface == "" {
			bad("vip.interface", "empty, but vip.address is set (name the interface that carries the VIP, e.g. eth0)")
		}
	} else if cfg.VIP.Interface != "" {
		bad("vip.address", "empty, but vip.interface is set (write e.g. 192.0.2.100/24)")
	}

	cfg.MySQL.DSN = parseDSN(bad, "mysql.dsn", v.GetString("mysql.dsn"))
	cfg.MySQL.QueryTimeout = dur("mysql.query_timeout")
	cfg.MySQL.FenceTimeout = dur("mysql.fence_timeout")
	cfg.MySQL.FenceGrace = dur("mysql.fence_grace")
	if g, f := cfg.MySQL.FenceGrace, cfg.MySQL.FenceTimeout; g > 0 && f > 0 && g >= f {
		bad("mysql.fence_grace", "%s is not shorter than mysql.fence_timeout (%s): the fence would give up before it kills anything (write e.g. 300ms)", g, f)
	}
	switch strings.ToLower(strings.TrimSpace(v.GetString("mysql.fence_kill"))) {
	case "true", "1", "yes", "on":
		cfg.MySQL.FenceKill = true
	case "false", "0", "no", "off":
	default:
		bad("mysql.fence_kill", "%q is not true or false", v.GetString("mysql.fence_kill"))
	}
	cfg.Peer.URL = v.GetString("peer.url")
	checkPeerURL(bad, "peer.url", cfg.Peer.URL)
	cfg.Peer.MySQLDSN = parseDSN(bad, "peer.mysql_dsn", v.GetString("peer.mysql_dsn"))
	cfg.Peer.Timeout = dur("peer.timeout")
	peerTimeout := dur("peer_timeout")
	cfg.Drain.Timeout = dur("drain.timeout")
	cfg.Drain.CatchupTimeout = dur("drain.catchup_timeout")
	if s := strings.TrimSpace(v.GetString("drain.answer_for")); s != "0" {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil || d < 0:
			bad("drain.answer_for", "%q is not a duration (write e.g. 2s, or 0 to turn it off)", s)
		case d > time.Minute:
			bad("drain.answer_for", "%s is longer than a minute: the old holder would answer for the VIP long after its clients learnt the new one (3s covers the new holder's gratuitous ARPs and their first refresh)", d)
		default:
			cfg.Drain.AnswerFor = d
		}
	}
	cfg.Promote.Unplanned = v.GetString("promote.unplanned")
	if cfg.Promote.Unplanned != "refuse" && cfg.Promote.Unplanned != "promote" {
		bad("promote.unplanned", "%q is not refuse or promote", cfg.Promote.Unplanned)
	}

	// MariaDB and MySQL bound the wait of SET GLOBAL read_only for running
	// writes (lock_wait_timeout) in whole seconds, at least 1 s; hacheck sets
	// it to at most 3/4 of the fence's budget so the statement ends on the
	// server before hacheck gives up on it.
	if f := cfg.MySQL.FenceTimeout; f > 0 && f < db.MinFenceTimeout {
		bad("mysql.fence_timeout", "%s is too short: the server bounds its wait for running writes in whole seconds (at least 1 s), so a fence needs at least %s to end on the server before hacheck gives up (write e.g. 2s)", f, db.MinFenceTimeout)
	}
	cfg.Replication.User = v.GetString("replication.user")
	cfg.Replication.Password = v.GetString("replication.password")
	loadSecrets(v, cfg, bad)
	loadPeers(v, cfg, peerTimeout, bad)
	if cfg.MySQL.DSN.IsSet() && cfg.Drain.Timeout > 0 {
		// peer-ready, fence and catch-up run one after another inside the drain.
		if need := cfg.peerTimeout() + cfg.MySQL.FenceTimeout + cfg.Drain.CatchupTimeout; cfg.Drain.Timeout <= need {
			bad("drain.timeout", "%s leaves no room for its steps: peer.timeout (%s) + mysql.fence_timeout (%s) + drain.catchup_timeout (%s) = %s (raise drain.timeout or lower those)",
				cfg.Drain.Timeout, cfg.peerTimeout(), cfg.MySQL.FenceTimeout, cfg.Drain.CatchupTimeout, need)
		} else if need += cfg.Drain.CatchupTimeout / 2; len(cfg.Peers) > 1 && cfg.Drain.Timeout <= need {
			// A move among several nodes first waits, unfenced, for the
			// successor to catch up, for half of drain.catchup_timeout.
			bad("drain.timeout", "%s leaves no room for a move among several nodes: peer_timeout (%s) + mysql.fence_timeout (%s) + 1.5 x drain.catchup_timeout (%s) = %s (raise drain.timeout or lower those)",
				cfg.Drain.Timeout, cfg.peerTimeout(), cfg.MySQL.FenceTimeout, cfg.Drain.CatchupTimeout, need)
		}
	}

	switch strings.ToLower(strings.TrimSpace(v.GetString("admin.enabled"))) {
	case "true", "1", "yes", "on":
		cfg.Admin.Enabled = true
	case "false", "0", "no", "off", "":
	default:
		bad("admin.enabled", "%q is not true or false", v.GetString("admin.enabled"))
	}
	cfg.Admin.TokenFile = v.GetString("admin.token_file")
	cfg.Admin.Socket = v.GetString("admin.socket")
	if cfg.Admin.Enabled {
		if cfg.Admin.TokenFile == "" && cfg.Admin.Socket == "" {
			bad("admin.enabled", "true, but neither admin.token_file nor admin.socket is set (the admin API never runs unauthenticated)")
		}
		if cfg.Admin.Socket != "" && !filepath.IsAbs(cfg.Admin.Socket) {
			bad("admin.socket", "%q is not an absolute path", cfg.Admin.Socket)
		}
	}
	// The holds of a move are a lease of 2 x drain.timeout + 10 s, which a
	// node grants for at most 10 min (peer.MaxHoldTTL).
	if d := cfg.Drain.Timeout; len(cfg.Peers) > 1 && 2*d+10*time.Second > 10*time.Minute {
		bad("drain.timeout", "%s is too long with several peers: the holds of a move last 2 x drain.timeout + 10s, at most 10m (write at most 295s)", d)
	}
	if len(cfg.Peers) > 1 && (!cfg.Admin.Enabled || cfg.Admin.TokenFile == "") {
		bad("peers", "%d peers, but admin.enabled with admin.token_file is not set: a move among several nodes holds the others ineligible through their admin API, with this node's token (set admin.enabled: true and admin.token_file, the same token on every node)", len(cfg.Peers))
	}
	cfg.Agent.Listen = v.GetString("agent.listen")
	if cfg.Agent.Listen != "" {
		if err := checkHostPort(cfg.Agent.Listen, 0); err != nil {
			bad("agent.listen", "%q: %v (write host:port, e.g. :8531, or leave empty to turn the agent off)", cfg.Agent.Listen, err)
		}
	}

	cfg.Keepalived.Config = v.GetString("keepalived.config")
	if cfg.Keepalived.Config != "" && !filepath.IsAbs(cfg.Keepalived.Config) {
		bad("keepalived.config", "%q is not an absolute path (write e.g. %s, or \"\" not to look)", cfg.Keepalived.Config, DefaultKeepalivedConfig)
	}

	cfg.Checks = loadChecks(v, cfg, bad)
	cfg.Galera.TransitionPeriod = dur("galera.transition_period")
	if n, err := strconv.Atoi(strings.TrimSpace(v.GetString("galera.min_synced_others"))); err != nil || n < 0 {
		bad("galera.min_synced_others", "%q is not a whole number >= 0", v.GetString("galera.min_synced_others"))
	} else {
		cfg.Galera.MinSyncedOthers = n
	}
	for _, c := range cfg.Checks {
		if c.Type == TypeGalera {
			cfg.Galera.DSN = c.DSN
			break
		}
	}

	if len(errs) > 0 {
		src := "defaults and environment"
		if cfg.File != "" {
			src = cfg.File
		}
		return nil, &Error{Source: src, Problems: errs}
	}
	return cfg, nil
}

// Error lists every problem found in one configuration.
type Error struct {
	Source   string
	Problems []error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%s):", e.Source)
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() []error { return e.Problems }

// rawCheck is one entry of `checks` as written; durations stay strings so
// that a bad one is reported with its key rather than as a decoder error.
type rawCheck struct {
	Name       string `mapstructure:"name"`
	Type       string `mapstructure:"type"`
	Address    string `mapstructure:"address"`
	URL        string `mapstructure:"url"`
	Command    any    `mapstructure:"command"`
	Mode       string `mapstructure:"mode"`
	MaxLag     string `mapstructure:"max_lag"`
	DSN        string `mapstructure:"dsn"`
	Timeout    string `mapstructure:"timeout"`
	Interval   string `mapstructure:"interval"`
	DonorOK    string `mapstructure:"donor_ok"`
	ReadOnlyOK string `mapstructure:"read_only_ok"`
}

func loadChecks(v *viper.Viper, cfg *Config, bad func(key, format string, a ...any)) []Check {
	list, ok := v.Get("checks").([]any)
	if v.Get("checks") != nil && !ok {
		bad("checks", "must be a list of checks (each with name and type)")
		return nil
	}
	var out []Check
	seen := map[string]bool{}
	for i, item := range list {
		key := fmt.Sprintf("checks[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			bad(key, "must be a mapping with name, type and the type's settings")
			continue
		}
		var rc rawCheck
		str := listEntry(bad, key, m, rawCheckKeys)
		rc = rawCheck{Name: str("name"), Type: str("type"), Address: str("address"), URL: str("url"),
			Command: m["command"], Mode: str("mode"), MaxLag: str("max_lag"), DSN: str("dsn"),
			Timeout: str("timeout"), Interval: str("interval"), DonorOK: str("donor_ok"), ReadOnlyOK: str("read_only_ok")}
		if rc.Name != "" {
			key = fmt.Sprintf("checks[%d] (%s)", i, rc.Name)
		}
		c := Check{Name: rc.Name, Type: rc.Type, Address: rc.Address, URL: rc.URL, Mode: rc.Mode,
			Timeout: DefaultCheckTimeout, Interval: DefaultCheckInterval}
		if c.Name == "" {
			bad(key+".name", "empty (give each check a short unique name)")
		} else if seen[c.Name] {
			bad(key+".name", "%q is used by another check (names must be unique)", c.Name)
		}
		seen[c.Name] = true
		optDur := func(k, s string, dst *time.Duration) {
			if s == "" {
				return
			}
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				bad(key+"."+k, "%q is not a positive duration (write e.g. 500ms, 2s)", s)
				return
			}
			*dst = d
		}
		optDur("timeout", rc.Timeout, &c.Timeout)
		optDur("interval", rc.Interval, &c.Interval)
		optDur("max_lag", rc.MaxLag, &c.MaxLag)
		if cfg.CheckTimeout > 0 && c.Timeout > cfg.CheckTimeout {
			bad(key+".timeout", "%s is longer than check_timeout (%s); `hacheck check` would give up first (lower it or raise check_timeout)", c.Timeout, cfg.CheckTimeout)
		}
		switch c.Type {
		case TypeTCP:
			if err := checkHostPort(c.Address, 1); err != nil || strings.HasPrefix(c.Address, ":") {
				bad(key+".address", "%q is not host:port (write e.g. 127.0.0.1:80)", c.Address)
			}
		case TypeHTTP:
			u, err := url.Parse(c.URL)
			if c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key+".url", "%q is not an http(s) URL (write e.g. http://127.0.0.1/health)", c.URL)
			}
		case TypeExec:
			c.Command = commandList(rc.Command)
			if len(c.Command) == 0 {
				bad(key+".command", "empty (write the program and its arguments as a list, e.g. [/usr/local/bin/site-ok, --quick])")
			} else if !filepath.IsAbs(c.Command[0]) {
				bad(key+".command", "%q is not an absolute path (keepalived runs hacheck with an empty PATH)", c.Command[0])
			}
		case TypeMySQL:
			if c.Mode == "" {
				c.Mode = "alive"
			}
			if c.Mode != "alive" && c.Mode != "replica" {
				bad(key+".mode", "%q is not alive or replica", c.Mode)
			}
			c.DSN = cfg.MySQL.DSN
			if rc.DSN != "" {
				c.DSN = parseDSN(bad, key+".dsn", rc.DSN)
			} else if !c.DSN.IsSet() {
				bad(key+".dsn", "empty and mysql.dsn is not set (set mysql.dsn)")
			}
		case TypeGalera:
			c.DonorOK = optBool(bad, key+".donor_ok", rc.DonorOK, false)
			c.ReadOnlyOK = optBool(bad, key+".read_only_ok", rc.ReadOnlyOK, true)
			c.DSN = cfg.MySQL.DSN
			if rc.DSN != "" {
				c.DSN = parseDSN(bad, key+".dsn", rc.DSN)
			} else if !c.DSN.IsSet() {
				bad(key+".dsn", "empty and mysql.dsn is not set (set mysql.dsn or the check's dsn)")
			}
		default:
			bad(key+".type", "%q is not one of %s", c.Type, strings.Join(checkTypes, ", "))
		}
		out = append(out, c)
	}
	return out
}

// listEntry reports every key of the list entry m (at key) that is not
// in known, and returns how to read one of its settings as a trimmed
// string ("" when absent).
func listEntry(bad func(key, format string, a ...any), key string, m map[string]any, known []string) func(string) string {
	for k := range m {
		if !slices.Contains(known, k) {
			bad(key+"."+k, "%s", unknownKeyHint(k, known))
		}
	}
	return func(k string) string {
		if m[k] == nil {
			return ""
		}
		return strings.TrimSpace(fmt.Sprint(m[k]))
	}
}

var rawCheckKeys = []string{"name", "type", "address", "url", "command", "mode", "max_lag", "dsn", "timeout", "interval", "donor_ok", "read_only_ok"}

// optBool reads an optional true/false setting; "" is def.
func optBool(bad func(key, format string, a ...any), key, s string, def bool) bool {
	switch strings.ToLower(s) {
	case "":
		return def
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	bad(key, "%q is not true or false", s)
	return def
}

func commandList(v any) []string {
	switch c := v.(type) {
	case string:
		return strings.Fields(c)
	case []any:
		out := make([]string, 0, len(c))
		for _, a := range c {
			out = append(out, fmt.Sprint(a))
		}
		return out
	}
	return nil
}

// checkHostPort validates host:port with a port from minPort to 65535
// (listen may use 0: any free port).
func checkHostPort(s string, minPort int) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	if n, err := strconv.Atoi(port); err != nil || n < minPort || n > 65535 {
		return fmt.Errorf("port %q is not a number from %d to 65535", port, minPort)
	}
	return nil
}

func knownKeys() []string {
	keys := []string{"checks", "peers"}
	for k := range defaults() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unknownKeys lists keys in the file that hacheck does not know: a typo
// must not silently fall back to a default.
func unknownKeys(v *viper.Viper) []string {
	known := map[string]bool{}
	for _, k := range knownKeys() {
		known[k] = true
	}
	var out []string
	for _, k := range v.AllKeys() {
		if known[k] || strings.HasPrefix(k, "checks.") || strings.HasPrefix(k, "peers.") {
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
