package db

import (
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

func TestParseDialect(t *testing.T) {
	tests := []struct {
		version, comment string
		want             Dialect
	}{
		{"10.11.6-MariaDB-0+deb12u1-log", "Debian 12", MariaDB},
		{"5.5.5-10.11.6-MariaDB", "mariadb.org binary distribution", MariaDB},
		{"11.4.2-MariaDB", "MariaDB Server", MariaDB},
		{"8.0.36", "MySQL Community Server - GPL", MySQL},
		{"8.4.0", "MySQL Community Server - GPL", MySQL},
		{"8.0.35-27", "Percona Server (GPL), Release 27, Revision 2f8eeab2", MySQL},
		{"", "", DialectUnknown},
	}
	for _, tt := range tests {
		if got := ParseDialect(tt.version, tt.comment); got != tt.want {
			t.Errorf("ParseDialect(%q, %q) = %v, want %v", tt.version, tt.comment, got, tt.want)
		}
	}
}

func TestParseSwitch(t *testing.T) {
	for v, want := range map[string]bool{"0": false, "1": true, "OFF": false, "ON": true, "off": false, "": false, "NO_LOCK": true, "NO_LOCK_NO_ADMIN": true} {
		if got := parseSwitch(v); got != want {
			t.Errorf("parseSwitch(%q) = %v", v, got)
		}
	}
}

func TestOpenMasksAndTimeouts(t *testing.T) {
	tests := []struct {
		dsn, masked string
	}{
		{"hacheck:s3cret@tcp(192.0.2.1:3306)/", "hacheck:***@tcp(192.0.2.1:3306)/"},
		{"hacheck:s3cret@tcp(192.0.2.1:3306)/app?readTimeout=5s&timeout=1s", "hacheck:***@tcp(192.0.2.1:3306)/app"},
		{"monitor@unix(/run/mysqld/mysqld.sock)/", "monitor@unix(/run/mysqld/mysqld.sock)/"},
		{"u:p@/", "u:***@tcp(127.0.0.1:3306)/"},
	}
	for _, tt := range tests {
		s, err := Open(tt.dsn, Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", tt.dsn, err)
		}
		if s.String() != tt.masked {
			t.Errorf("masked %q = %q, want %q", tt.dsn, s.String(), tt.masked)
		}
		s.Close()
	}

	// DSN values are kept unless an option overrides them; defaults fill the rest.
	s, err := Open("u:p@tcp(192.0.2.1:3306)/?readTimeout=5s&timeout=1s", Options{WriteTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.opts.DialTimeout != time.Second || s.opts.ReadTimeout != 5*time.Second || s.opts.WriteTimeout != 3*time.Second {
		t.Errorf("timeouts = %v/%v/%v, want 1s/5s/3s", s.opts.DialTimeout, s.opts.ReadTimeout, s.opts.WriteTimeout)
	}
	s2, err := Open("u:p@tcp(192.0.2.1:3306)/", Options{ReadTimeout: 9 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.opts.DialTimeout != DefaultDialTimeout || s2.opts.ReadTimeout != 9*time.Second || s2.opts.QueryTimeout != DefaultQueryTimeout {
		t.Errorf("timeouts = %+v", s2.opts)
	}
}

func TestOpenBadDSN(t *testing.T) {
	for _, dsn := range []string{
		"hacheck:s3cret@tcp(192.0.2.1:3306",              // unterminated address
		"hacheck:s3cret@tcp(192.0.2.1:3306)",             // no slash
		"hacheck:s3cret@tcp(192.0.2.1:3306)/?tls=s3cret", // unknown TLS config
		"hacheck:s3cret@tcp(192.0.2.1:3306)/?parseTime=s3cret",
	} {
		_, err := Open(dsn, Options{})
		if err == nil {
			t.Errorf("Open(%q): no error", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", dsn, err)
		}
		if !strings.Contains(err.Error(), "dsn") {
			t.Errorf("Open(%q) error does not say what failed: %v", dsn, err)
		}
	}
}

func TestScrub(t *testing.T) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr = "u", "pw-123", "tcp", "192.0.2.1:3306"
	s := &Server{masked: MaskDSN(cfg), password: cfg.Passwd}
	err := s.fail("ping", errBoom("dial u:pw-123@x failed"))
	if strings.Contains(err.Error(), "pw-123") || !strings.Contains(err.Error(), "ping u:***@tcp(192.0.2.1:3306)/: dial u:***@x failed") {
		t.Errorf("fail() = %v", err)
	}
}

type errBoom string

func (e errBoom) Error() string { return string(e) }
