// Package statecheck is `hacheck check` for a node whose one input is its
// state file: no live checks and no database. keepalived runs the check
// every second on every node, and almost all of its cost is starting the
// process: the Go runtime and the initialisers of every package the
// binary links (viper, cobra, net/http, prometheus, the MySQL driver,
// netlink). cmd/hacheck-check links this package, internal/state (with
// fsnotify and x/sys) and the standard library, not even a YAML library,
// so it starts at about the cost of any Go program.
//
// The configuration stays hacheck's: internal/config is its one loader.
// Read takes a file only when every key in it is one it knows (Keys) with
// a value that loader accepts, and no HACHECK_* variable overrides one;
// for anything else it answers "not mine" and the caller runs the full
// `hacheck check`, which reads it (and reports its errors) as always.
// same_test.go compares both on many configurations.
//
// What the check decides is the state's verdict (state.Verdict): healthy
// only for a readable "up" state without a stale ex-primary mark, fail
// closed on a missing, corrupt or unknown-version file. Answer is the
// whole check, bounded by check_timeout, for cmd/hacheck-check and the
// lean front (cmd/hacheck-front).
package statecheck

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/exitcode"
	"github.com/hacheck/hacheck/internal/state"
)

// DefaultFile is read when no --config is given and it exists (as
// config.DefaultFile; a test keeps them equal).
const DefaultFile = "/etc/hacheck/hacheck.yaml"

// EnvPrefix starts every environment override of a configuration key.
const EnvPrefix = "HACHECK_"

// Keys are the configuration keys Read handles; a file with any other key
// is the full loader's.
var Keys = []string{"node", "state_dir", "check_timeout", "log_level", "log_format", "checks",
	"listen", "stale_after", "precondition_timeout"}

// The defaults of the keys Read uses, as internal/config has them (a test
// compares a file without them).
const (
	defaultStateDir     = "/var/lib/hacheck"
	defaultCheckTimeout = 2 * time.Second
)

// ConfigArg recognizes the arguments after "check" that keepalived passes:
// none, "--config FILE" or "--config=FILE". Anything else (--help, another
// flag, an argument, an empty or flag-like FILE) is not ok and is left to
// the full command line, so usage errors read as they always do.
func ConfigArg(args []string) (config string, ok bool) {
	switch {
	case len(args) == 0:
		return "", true
	case len(args) == 1 && strings.HasPrefix(args[0], "--config="):
		config = strings.TrimPrefix(args[0], "--config=")
	case len(args) == 2 && args[0] == "--config":
		config = args[1]
	default:
		return "", false
	}
	return config, config != "" && !strings.HasPrefix(config, "-")
}

// Settings are what the state-only check needs of the configuration.
type Settings struct {
	File         string // the file read; "" = defaults only
	StateDir     string
	CheckTimeout time.Duration
	LogLevel     slog.Level
	LogFormat    string // text or json
}

// Read reads the configuration named by --config (file; "" = DefaultFile
// if it exists) as internal/config would. ok is false when the full loader
// must decide: the file cannot be read or is not one YAML mapping, it has a
// key not in Keys (or one in another spelling, or twice), a value is not a
// plain string the loader accepts, checks is not empty, or environ (the
// process environment) has a HACHECK_* variable. Read never reports an
// error of its own: every error message is the full loader's.
func Read(file string, environ []string) (s Settings, ok bool) {
	for _, e := range environ {
		if strings.HasPrefix(e, EnvPrefix) {
			return Settings{}, false
		}
	}
	if file == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			file = DefaultFile
		}
	}
	values := map[string]string{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return Settings{}, false
		}
		if values, ok = scalars(b); !ok {
			return Settings{}, false
		}
	}
	return settings(file, values)
}

// scalars reads the plainest YAML: one `key: value` per line at the start
// of the line, each key in Keys at most once, each value a plain word or a
// quoted string without escapes (checks: only []), comments, blank lines
// and a leading "---". ok is false for anything else (indentation, flow or
// block collections, anchors, tags, escapes, tabs, CR, non-ASCII, a word
// YAML reads as a number, bool or null): the full loader's YAML parser
// decides those. hacheck-check links no YAML library: its initialisers
// and code cost about a fifth of the CPU of one hacheck-check.
func scalars(b []byte) (map[string]string, bool) {
	out := map[string]string{}
	seen := map[string]bool{}
	for n, line := range strings.Split(string(b), "\n") {
		for i := 0; i < len(line); i++ {
			if c := line[i]; c == '\t' || c == '\r' || c > '~' || c < ' ' {
				return nil, false
			}
		}
		if t := strings.TrimLeft(line, " "); t == "" || t[0] == '#' {
			continue
		}
		if n == 0 && strings.TrimRight(line, " ") == "---" {
			continue
		}
		key, rest, found := strings.Cut(line, ": ")
		if !found || !slices.Contains(Keys, key) {
			return nil, false
		}
		if seen[key] {
			return nil, false // YAML: "mapping key already defined"
		}
		seen[key] = true
		value, quoted, ok := scalar(strings.TrimLeft(rest, " "))
		switch {
		case !ok:
			return nil, false
		case key == "checks":
			if quoted || value != "[]" {
				return nil, false
			}
			continue // no live checks: the default
		case quoted:
		case value == "[]" || !spelled(key, value):
			return nil, false // a list, or a word the loader gets otherwise
		}
		out[key] = value
	}
	return out, true
}

// scalar reads one value and the comment after it: 'text' or "text"
// (quoted: no quote or backslash inside), [] or a plain word (the
// characters of a path, a duration or a name).
func scalar(s string) (value string, quoted, ok bool) {
	var tail string
	switch {
	case s == "":
		return "", false, false // null
	case s[0] == '\'' || s[0] == '"':
		end := strings.IndexAny(s[1:], "'\"\\")
		if end < 0 || s[1+end] != s[0] {
			return "", false, false
		}
		value, tail, quoted = s[1:1+end], s[2+end:], true
	case strings.HasPrefix(s, "[]"):
		value, tail = "[]", s[2:]
	default:
		end := strings.IndexFunc(s, func(r rune) bool { return !wordChar(r) })
		if end < 0 {
			end = len(s)
		}
		value, tail = s[:end], s[end:]
		if value == "" {
			return "", false, false
		}
	}
	if t := strings.TrimLeft(tail, " "); t != "" && (t[0] != '#' || t == tail) {
		return "", false, false
	}
	return value, quoted, true
}

func wordChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("._/+-@", r)
}

// spelled reports whether the loader gets from the plain word value the
// string it spells: not when it is one of YAML's bool or null words or
// starts with a reserved indicator (@) or like a number, except a
// duration, which ends with its unit as no number does, and a whole
// number without a leading zero for stale_after (a YAML int, which the
// loader reads back as the same digits).
func spelled(key, value string) bool {
	switch strings.ToLower(value) {
	case "null", "true", "false", "yes", "no", "on", "off", "y", "n":
		return false
	}
	if value[0] == '@' {
		return false
	}
	if c := value[0]; '0' <= c && c <= '9' || c == '.' || c == '+' || c == '-' {
		switch key {
		case "check_timeout", "precondition_timeout":
			last := value[len(value)-1]
			return 'a' <= last && last <= 'z'
		case "stale_after":
			return c != '0' && len(value) < 10 && strings.Trim(value, "0123456789") == ""
		}
		return false
	}
	return true
}

// settings applies the defaults and accepts only values internal/config
// accepts, with its rules for each key.
func settings(file string, values map[string]string) (Settings, bool) {
	get := func(key, def string) string {
		if v, ok := values[key]; ok {
			return v
		}
		return def
	}
	host, _ := os.Hostname()
	if strings.TrimSpace(get("node", host)) == "" {
		return Settings{}, false
	}
	s := Settings{File: file, StateDir: get("state_dir", defaultStateDir), CheckTimeout: defaultCheckTimeout}
	if !filepath.IsAbs(s.StateDir) {
		return Settings{}, false
	}
	if v, ok := values["check_timeout"]; ok {
		if s.CheckTimeout, ok = positive(v); !ok {
			return Settings{}, false
		}
	}
	if _, ok := positive(get("precondition_timeout", "30s")); !ok {
		return Settings{}, false
	}
	if n, err := strconv.Atoi(get("stale_after", "3")); err != nil || n < 1 {
		return Settings{}, false
	}
	if !hostPort(get("listen", ":8530")) {
		return Settings{}, false
	}
	if err := s.LogLevel.UnmarshalText([]byte(get("log_level", "info"))); err != nil {
		return Settings{}, false
	}
	if s.LogFormat = strings.ToLower(strings.TrimSpace(get("log_format", "text"))); s.LogFormat != "text" && s.LogFormat != "json" {
		return Settings{}, false
	}
	return s, true
}

// positive reads a duration as the loader does.
func positive(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	return d, err == nil && d > 0
}

// hostPort accepts the host:port values the loader accepts (a listen
// address: port 0 to 65535) that have one colon and no brackets; the rest
// (IPv6 literals) are the loader's.
func hostPort(s string) bool {
	host, port, found := strings.Cut(s, ":")
	if !found || strings.ContainsAny(host, "[]") || strings.ContainsAny(port, ":[]") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// Verdict reads the state and decides (state.Verdict): the check's whole
// work once the configuration is read. A hold whose lease has ended no
// longer counts, and is cleared (rewriting the track file) as `hacheck
// check` clears it, so a node whose holder was killed is eligible again
// at keepalived's next check; a failure to clear it is logged on log.
func Verdict(s Settings, log *slog.Logger) (healthy bool, reason string) {
	store := state.Store{Dir: s.StateDir}
	st, err := store.Load()
	healthy, reason = state.Verdict(st, err)
	if now := time.Now(); err == nil && st.HoldEnded(now) {
		if _, err := store.ExpireHold(now); err != nil {
			log.Warn("cannot clear an expired hold", "err", err)
		}
	}
	return healthy, reason
}

// Logger is the one logger of a hacheck command: at level, as text or
// json lines on w.
func Logger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Late is the reason a check fails when check_timeout passed before the
// state was read (a state directory on a mount that hangs).
func Late(s Settings) string {
	return fmt.Sprintf("state: not read within check_timeout (%s)", s.CheckTimeout)
}

// Print writes the check's one line ("OK: reason" or "FAIL: reason") and
// returns its exit code; `hacheck check` prints through it too.
func Print(stdout io.Writer, healthy bool, reason string) int {
	if !healthy {
		fmt.Fprintln(stdout, "FAIL: "+reason)
		return exitcode.Fail
	}
	fmt.Fprintln(stdout, "OK: "+reason)
	return exitcode.OK
}

// Interrupted is the answer to a SIGTERM or SIGINT before the verdict:
// never success.
func Interrupted(stdout io.Writer) int {
	return Print(stdout, false, "interrupted before the check finished")
}

// Answer is the state-only check for a command line ARGS of `check`
// (ConfigArg) when Read takes the configuration: one line on stdout, the
// verdict's, or the deadline's once check_timeout passes first (then
// exit ends the process). ok is false when the configuration is not
// state-only; the caller then runs the full `hacheck check`.
//
// It installs no signal handler (each costs a thread at start):
// keepalived's SIGTERM at its script timeout ends the process by the
// signal's default action, which keepalived counts as a failure, as it
// does the "interrupted" exit 1 of the full check.
func Answer(args, environ []string, stdout, stderr io.Writer, exit func(int)) (code int, ok bool) {
	file, ok := ConfigArg(args)
	if !ok {
		return 0, false
	}
	s, ok := Read(file, environ)
	if !ok {
		return 0, false
	}
	var once sync.Once
	deadline := time.AfterFunc(s.CheckTimeout, func() {
		once.Do(func() { exit(Print(stdout, false, Late(s))) })
	})
	healthy, reason := Verdict(s, Logger(stderr, s.LogLevel, s.LogFormat))
	code = exitcode.Fail
	once.Do(func() {
		deadline.Stop()
		code = Print(stdout, healthy, reason)
	})
	return code, true
}
