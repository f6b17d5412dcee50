package config

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/viper"
)

// Passwords can live outside the configuration file: replication.password_file,
// mysql.password_file and peer.mysql_password_file name a file holding the
// password alone (one line; a systemd credential under
// $CREDENTIALS_DIRECTORY works). A password given both ways is an error. A
// secret file, or a configuration file that holds a password, readable by
// group or other is reported in Config.Warnings.

// maxSecret bounds what is read of a password file.
const maxSecret = 4096

// warnFileHoldsPassword warns, once, when the configuration file holds a
// password and group or other can read it.
func warnFileHoldsPassword(cfg *Config) {
	w := readableByOthers(cfg.File)
	if w == "" {
		return
	}
	msg := fmt.Sprintf("%s holds a password and %s: chmod 640 %s (group root or hacheck), or move the passwords to *_password_file settings", cfg.File, w, cfg.File)
	if !slices.Contains(cfg.Warnings, msg) {
		cfg.Warnings = append(cfg.Warnings, msg)
	}
}

func loadSecrets(v *viper.Viper, cfg *Config, bad func(key, format string, a ...any)) {
	holds := v.InConfig("replication.password") && cfg.Replication.Password != "" ||
		v.InConfig("mysql.dsn") && cfg.MySQL.DSN.IsSet() && cfg.MySQL.DSN.parsed.Passwd != "" ||
		v.InConfig("peer.mysql_dsn") && cfg.Peer.MySQLDSN.IsSet() && cfg.Peer.MySQLDSN.parsed.Passwd != ""
	if holds {
		warnFileHoldsPassword(cfg)
	}
	read := func(key string) (string, bool) {
		return readSecret(cfg, bad, key, strings.TrimSpace(v.GetString(key)))
	}
	withPassword := func(d *DSN, key, dsnKey string) {
		pw, ok := read(key)
		if !ok {
			return
		}
		if !d.IsSet() {
			bad(key, "set, but %s is not (the password belongs to that DSN; write it without a password)", dsnKey)
			return
		}
		if d.parsed.Passwd != "" {
			bad(key, "set, but %s already has a password (keep one of the two)", dsnKey)
			return
		}
		d.parsed.Passwd = pw
	}
	withPassword(&cfg.MySQL.DSN, "mysql.password_file", "mysql.dsn")
	withPassword(&cfg.Peer.MySQLDSN, "peer.mysql_password_file", "peer.mysql_dsn")
	if pw, ok := read("replication.password_file"); ok {
		if cfg.Replication.Password != "" {
			bad("replication.password_file", "set, but replication.password is too (keep one of the two)")
		} else {
			cfg.Replication.Password = pw
		}
	}
}

// readableByOthers says how path is readable beyond its owner, "" when it
// is not: by other, or by a group that is neither root nor hacheck (the
// packaged unit runs serve as group hacheck).
func readableByOthers(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	perm := fi.Mode().Perm()
	if perm&0o004 != 0 {
		return fmt.Sprintf("is readable by everyone (mode %04o)", perm)
	}
	if perm&0o040 == 0 {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	name := strconv.Itoa(int(st.Gid))
	if g, err := user.LookupGroupId(name); err == nil {
		name = g.Name
	}
	if name == "root" || name == "hacheck" || st.Gid == 0 {
		return ""
	}
	return fmt.Sprintf("is readable by group %s (mode %04o)", name, perm)
}

// readSecret reads the password file at path (the setting key), "" and
// false when path is empty or the file is unusable (reported through bad).
func readSecret(cfg *Config, bad func(key, format string, a ...any), key, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	fi, err := os.Stat(path)
	if err != nil {
		bad(key, "%v (the file must hold the password alone)", unwrapPath(err))
		return "", false
	}
	if fi.Size() > maxSecret || !fi.Mode().IsRegular() {
		bad(key, "%s is not a password file (a regular file of at most %d bytes)", path, maxSecret)
		return "", false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		bad(key, "%v", unwrapPath(err))
		return "", false
	}
	if w := readableByOthers(path); w != "" {
		cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("%s: %s %s: chmod 640 %s (group root or hacheck)", key, path, w, path))
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" || strings.ContainsAny(pw, "\n") {
		bad(key, "%s must hold the password alone, on one line", path)
		return "", false
	}
	return pw, true
}
