// Package mariadbd starts throwaway MariaDB servers for the lab and, through
// internal/mariadbtest, for tests.
//
// Each server gets its own temporary directory holding the datadir, the
// socket, the pid file, the error log and the generated option file. It
// listens on BindAddress:Port (127.0.0.1 and a free port by default), writes
// a binary log (log_slave_updates ON, binlog_format ROW) and a relay log with
// explicit names, so any two servers can replicate from each other with GTIDs.
//
// StartProcess starts one; the caller must call Stop. Tests use
// mariadbtest.Start instead, which registers the cleanup (and skips or
// fails when mariadbd is not installed); this package does not import
// testing, so the lab binary does not link it.
//
// Accounts on a fresh server:
//
//   - root over the socket, without a password: the harness's own channel,
//     which also works when the server runs in another network namespace;
//   - root@'%' over TCP with Options.RootPassword (see RootDSN);
//   - ReplUser@'%' with REPLICATION SLAVE, once MakeReplicaOf has run;
//   - whatever CreateHacheckUser creates.
//
// The harness creates its accounts with sql_log_bin=0, so a fresh server's
// binary log holds only what the test itself writes, and every node has the
// accounts it needs when the replication direction is reversed.
//
// # Grants for hacheck on MariaDB 10.11
//
// HacheckGrants is the minimal set that the internal/db tests prove, one
// privilege at a time, to be both sufficient and needed:
//
//   - SLAVE MONITOR: SHOW SLAVE STATUS / SHOW REPLICA STATUS (replica check);
//   - READ_ONLY ADMIN: SET GLOBAL read_only (fence and unfence);
//   - REPLICATION SLAVE ADMIN: STOP/START SLAVE, CHANGE MASTER and
//     SET GLOBAL gtid_slave_pos (promote, follow a new primary);
//   - PROCESS: see other users' connections and open transactions
//     (information_schema.PROCESSLIST, INNODB_TRX), for the fence's kill;
//   - CONNECTION ADMIN: KILL them when they hold the fence up.
//
// Reading @@gtid_binlog_pos, @@gtid_slave_pos, @@read_only and calling
// MASTER_GTID_WAIT need no privilege. READ_ONLY ADMIN also lets the holder
// write while read_only is ON, as any ALL PRIVILEGES account can: the fence
// stops applications, not hacheck or root.
package mariadbd

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// HacheckGrants is the minimal privilege list hacheck needs on MariaDB 10.11.
const HacheckGrants = "SLAVE MONITOR, READ_ONLY ADMIN, REPLICATION SLAVE ADMIN, PROCESS, CONNECTION ADMIN"

// Replication account that MakeReplicaOf creates on both servers.
const (
	ReplUser     = "repl"
	ReplPassword = "repl-secret"
)

// DefaultRootPassword is root's TCP password when Options.RootPassword is empty.
const DefaultRootPassword = "root-secret"

// Options describe one server. The zero value is a server on 127.0.0.1 with
// a free port.
type Options struct {
	// BindAddress is the address mariadbd listens on; default 127.0.0.1.
	BindAddress string
	// Port to listen on; 0 picks a free port on BindAddress (from this
	// process's network namespace, so set it explicitly with CommandPrefix).
	Port int
	// ServerID is @@server_id; 0 derives one from the port.
	ServerID uint32
	// GTIDDomainID is @@gtid_domain_id; default 0.
	GTIDDomainID uint32
	// CommandPrefix runs mariadbd through another command, for example
	// []string{"ip", "netns", "exec", "ns1"}. mariadb-install-db runs without it.
	CommandPrefix []string
	// BaseDir is where the temporary directory is made; default os.TempDir().
	BaseDir string
	// RootPassword for root@'%' over TCP; default DefaultRootPassword.
	RootPassword string
	// ExtraConfig lines are appended to the [mysqld] section.
	ExtraConfig []string
	// StartTimeout bounds install plus start; default 60s.
	StartTimeout time.Duration
	// Mariadbd and InstallDB override the binaries found in PATH and /usr/sbin.
	Mariadbd  string
	InstallDB string
	// User is the account mariadbd runs as when started by root; default
	// root. Any other account gets the whole directory chowned to it (a
	// Galera joiner's rsync SST runs as the server's user and must write
	// the datadir).
	User string
	// FirstStartArgs are appended to mariadbd's command line on the first
	// start only, not by Restart (e.g. --wsrep-new-cluster).
	FirstStartArgs []string
}

// Server is one running (or stopped) mariadbd.
type Server struct {
	Host     string // BindAddress
	Port     int
	Addr     string // host:port
	Socket   string
	Dir      string // temporary directory, removed by Stop
	DataDir  string
	ServerID uint32
	// RootPassword is root's password over TCP (none over the socket).
	RootPassword string

	opts    Options
	cnfPath string
	errLog  string

	mu      sync.Mutex
	starts  int // completed calls of start, for FirstStartArgs
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	admin   *sql.DB
	stopped bool // Stop ran: the directory is gone
}

// ErrNotInstalled means mariadbd or mariadb-install-db could not be found.
var ErrNotInstalled = errors.New("mariadbd not installed")

// Binaries returns the paths of mariadbd and mariadb-install-db, or an error
// wrapping ErrNotInstalled.
func Binaries(opts Options) (mariadbd, installDB string, err error) {
	find := func(override string, names ...string) (string, error) {
		if override != "" {
			p, err := exec.LookPath(override)
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrNotInstalled, err)
			}
			return p, nil
		}
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p, nil
			}
			for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
				p := filepath.Join(dir, n)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
		return "", fmt.Errorf("%w: none of %s found (apt-get install mariadb-server)", ErrNotInstalled, strings.Join(names, ", "))
	}
	if mariadbd, err = find(opts.Mariadbd, "mariadbd", "mysqld"); err != nil {
		return "", "", err
	}
	if installDB, err = find(opts.InstallDB, "mariadb-install-db", "mysql_install_db"); err != nil {
		return "", "", err
	}
	return mariadbd, installDB, nil
}

// StartProcess installs a fresh datadir and starts mariadbd, waiting until it
// accepts connections. The caller must call Stop.
func StartProcess(opts Options) (*Server, error) {
	if opts.BindAddress == "" {
		opts.BindAddress = "127.0.0.1"
	}
	if opts.RootPassword == "" {
		opts.RootPassword = DefaultRootPassword
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	mariadbd, installDB, err := Binaries(opts)
	if err != nil {
		return nil, err
	}
	opts.Mariadbd, opts.InstallDB = mariadbd, installDB

	dir, err := os.MkdirTemp(opts.BaseDir, "mariadbtest-")
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: temp dir: %w", err)
	}
	s := &Server{
		Host:         opts.BindAddress,
		Dir:          dir,
		DataDir:      filepath.Join(dir, "data"),
		Socket:       filepath.Join(dir, "mysqld.sock"),
		RootPassword: opts.RootPassword,
		opts:         opts,
		cnfPath:      filepath.Join(dir, "my.cnf"),
		errLog:       filepath.Join(dir, "error.log"),
	}
	// A unix socket path is limited to 107 bytes.
	if len(s.Socket) > 100 {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mariadbtest: socket path %s too long: set Options.BaseDir to a shorter directory", s.Socket)
	}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}

	deadline := time.Now().Add(opts.StartTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	// A free port picked here can be taken by someone else before mariadbd
	// binds it: retry with another one.
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(opts.BindAddress); err != nil {
				return fail(err)
			}
		}
		s.Port = port
		s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(port))
		s.ServerID = opts.ServerID
		if s.ServerID == 0 {
			s.ServerID = uint32(port)
		}
		if err := os.WriteFile(s.cnfPath, []byte(s.config()), 0o600); err != nil {
			return fail(fmt.Errorf("mariadbtest: write config: %w", err))
		}
		if attempt == 1 {
			// Before and after the install: mariadb-install-db runs as
			// Options.User and may leave root-owned files.
			if err := s.chownDir(); err != nil {
				return fail(err)
			}
			if err := s.install(ctx); err != nil {
				return fail(err)
			}
			if err := s.chownDir(); err != nil {
				return fail(err)
			}
		}
		err = s.start(ctx)
		if err == nil {
			break
		}
		if opts.Port == 0 && attempt < 3 && strings.Contains(s.ErrorLogTail(20), "Address already in use") {
			continue
		}
		return fail(err)
	}
	if err := s.setupAccounts(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("mariadbtest: pick a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) config() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("[mysqld]")
	if os.Geteuid() == 0 {
		user := s.opts.User
		if user == "" {
			user = "root"
		}
		w("user=%s", user)
	}
	w("datadir=%s", s.DataDir)
	w("socket=%s", s.Socket)
	w("pid-file=%s", filepath.Join(s.Dir, "mysqld.pid"))
	w("log-error=%s", s.errLog)
	w("bind-address=%s", s.Host)
	w("port=%d", s.Port)
	w("server-id=%d", s.ServerID)
	w("gtid-domain-id=%d", s.opts.GTIDDomainID)
	w("log-bin=mariadb-bin")
	w("log-bin-index=mariadb-bin.index")
	w("relay-log=relay-bin")
	w("relay-log-index=relay-bin.index")
	w("log-slave-updates=ON")
	w("binlog-format=ROW")
	w("skip-name-resolve")
	w("skip-slave-start")
	w("performance-schema=OFF")
	w("innodb-buffer-pool-size=32M")
	w("innodb-log-file-size=16M")
	w("innodb-flush-log-at-trx-commit=2")
	w("max-connections=100")
	for _, l := range s.opts.ExtraConfig {
		w("%s", l)
	}
	return b.String()
}

// install bootstraps the datadir. mariadb-install-db occasionally dies
// (seen: a segfault of its bootstrap mariadbd when several start at once on
// a busy 2-core machine), so a failed run is retried on an empty datadir,
// up to three times.
func (s *Server) install(ctx context.Context) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if attempt > 1 {
			if rerr := os.RemoveAll(s.DataDir); rerr != nil {
				return fmt.Errorf("mariadbtest: clear datadir for retry: %w", rerr)
			}
		}
		cmd := exec.CommandContext(ctx, s.opts.InstallDB,
			"--defaults-file="+s.cnfPath,
			"--auth-root-authentication-method=normal",
			"--skip-test-db")
		out, rerr := cmd.CombinedOutput()
		if rerr == nil {
			return nil
		}
		err = fmt.Errorf("mariadbtest: %s (attempt %d): %w\nerror log:\n%soutput:\n%s", filepath.Base(s.opts.InstallDB), attempt, rerr, s.ErrorLogTail(10), head(string(out), 10))
		if ctx.Err() != nil {
			break
		}
	}
	return err
}

// chownDir hands the whole directory to Options.User, when that is an
// account other than root and this process is root.
func (s *Server) chownDir() error {
	if s.opts.User == "" || s.opts.User == "root" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(s.opts.User)
	if err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(s.Dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("mariadbtest: chown %s to %s: %w", s.Dir, s.opts.User, err)
	}
	return nil
}

// ChownDir gives the directory (datadir included) to Options.User again,
// after the caller created files in it as root.
func (s *Server) ChownDir() error { return s.chownDir() }

// start runs mariadbd on the existing datadir and waits for the socket.
func (s *Server) start(ctx context.Context) error {
	argv := append(append([]string{}, s.opts.CommandPrefix...), s.opts.Mariadbd, "--defaults-file="+s.cnfPath)
	s.mu.Lock()
	if s.starts == 0 {
		argv = append(argv, s.opts.FirstStartArgs...)
	}
	s.mu.Unlock()
	os.Remove(filepath.Join(s.Dir, "mysqld.pid")) // left behind by a killed run
	cmd := exec.Command(argv[0], argv[1:]...)
	// Own process group: a ^C aimed at the test does not hit mariadbd
	// first; Pdeathsig: a test binary killed on timeout takes it along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mariadbtest: start %s: %w", argv[0], err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()

	db, err := sql.Open("mysql", s.socketDSN())
	if err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	db.SetMaxOpenConns(4)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err = db.PingContext(pctx)
		if err == nil {
			err = wsrepReady(pctx, db)
		}
		cancel()
		if err == nil {
			s.mu.Lock()
			s.admin = db
			s.starts++
			s.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			db.Close()
			return fmt.Errorf("mariadbtest: mariadbd exited during start (%v); error log:\n%s%s", s.waitErr, s.ErrorLogTail(20), out.String())
		case <-ctx.Done():
			db.Close()
			s.kill()
			return fmt.Errorf("mariadbtest: mariadbd not ready within the start timeout: %v; error log:\n%s", err, s.ErrorLogTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// wsrepReady fails while a Galera node accepts connections but cannot run
// statements yet (wsrep_on ON, wsrep_ready OFF: still joining). A server
// without Galera (no wsrep_on, or OFF) passes.
func wsrepReady(ctx context.Context, db *sql.DB) error {
	show := func(q string) (string, error) {
		var name, value string
		err := db.QueryRowContext(ctx, q).Scan(&name, &value)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return value, err
	}
	on, err := show("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'")
	if err != nil || on != "ON" {
		return err
	}
	ready, err := show("SHOW GLOBAL STATUS LIKE 'wsrep_ready'")
	if err == nil && ready != "ON" {
		err = fmt.Errorf("wsrep_ready is %q", ready)
	}
	return err
}

func (s *Server) socketDSN() string {
	c := mysql.NewConfig()
	c.User = "root"
	c.Net = "unix"
	c.Addr = s.Socket
	c.Timeout = 2 * time.Second
	c.ReadTimeout = 60 * time.Second
	c.WriteTimeout = 10 * time.Second
	c.InterpolateParams = true
	return c.FormatDSN()
}

func (s *Server) setupAccounts(ctx context.Context) error {
	stmts := []string{
		// TCP root goes through root@'%' with a password; root over the
		// socket (root@localhost) stays the harness's passwordless channel.
		"DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1'",
		fmt.Sprintf("CREATE USER IF NOT EXISTS 'root'@'%%' IDENTIFIED BY %s", quote(s.RootPassword)),
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION",
	}
	for _, q := range stmts {
		if err := s.execNoBinlog(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// DSN returns a TCP DSN for user on this server, with driver timeouts set.
func (s *Server) DSN(user, pass string) string {
	c := mysql.NewConfig()
	c.User = user
	c.Passwd = pass
	c.Net = "tcp"
	c.Addr = s.Addr
	c.Timeout = 2 * time.Second
	c.ReadTimeout = 30 * time.Second
	c.WriteTimeout = 10 * time.Second
	return c.FormatDSN()
}

// RootDSN is DSN("root", RootPassword): root over TCP.
func (s *Server) RootDSN() string { return s.DSN("root", s.RootPassword) }

// SocketDSN is root over the unix socket, without a password.
func (s *Server) SocketDSN() string { return s.socketDSN() }

// DB is the harness's own root connection pool (over the socket). It is
// closed by Stop, Shutdown and Kill.
func (s *Server) DB() *sql.DB {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.admin
}

// Pid is the process id of mariadbd as written to its pid file (the process
// started is a wrapper when CommandPrefix is set), or of the started process;
// 0 when not running.
func (s *Server) Pid() int {
	if !s.Running() {
		return 0
	}
	if b, err := os.ReadFile(filepath.Join(s.Dir, "mysqld.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return pid
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil && !s.exitedLocked() {
		return s.cmd.Process.Pid
	}
	return 0
}

func (s *Server) exitedLocked() bool {
	if s.exited == nil {
		return true
	}
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Running reports whether the mariadbd process is alive (possibly stopped
// by Pause).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.exitedLocked()
}

func (s *Server) signal(sig syscall.Signal) error {
	pid := s.Pid()
	if pid == 0 {
		return fmt.Errorf("mariadbtest: signal %v: server %s not running", sig, s.Addr)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("mariadbtest: signal %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// Pause stops the process with SIGSTOP: it keeps its sockets open but
// answers nothing, like a hung server. It returns once every thread is
// stopped. Resume undoes it; Stop and Kill resume it first.
func (s *Server) Pause() error {
	if err := s.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return s.waitThreads(true)
}

// Resume continues a paused process with SIGCONT.
func (s *Server) Resume() error {
	if err := s.signal(syscall.SIGCONT); err != nil {
		return err
	}
	return s.waitThreads(false)
}

// waitThreads waits until all of mariadbd's threads are stopped (or none
// is): a signal is delivered asynchronously, and a thread that has not
// stopped yet can still answer a query.
func (s *Server) waitThreads(stopped bool) error {
	pid := s.Pid()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if len(tasks) == 0 {
			return nil // not on Linux /proc, or gone: nothing to wait for
		}
		n := 0
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			// state is the field after the ")" that closes the command name.
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
				if st := b[i+2]; st == 'T' || st == 't' {
					n++
				}
			}
		}
		if (stopped && n == len(tasks)) || (!stopped && n == 0) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mariadbtest: pid %d: %d of %d threads stopped, want stopped=%v", pid, n, len(tasks), stopped)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Shutdown stops mariadbd with SIGTERM (SIGKILL after 30s) and keeps the
// datadir, so Restart can start it again.
func (s *Server) Shutdown() error { return s.terminate(30 * time.Second) }

// Kill stops mariadbd with SIGKILL, like a crash, and keeps the datadir.
func (s *Server) Kill() error { return s.terminate(0) }

func (s *Server) kill() { s.terminate(0) }

// terminate sends SIGTERM (grace > 0) or SIGKILL and waits for the exit.
func (s *Server) terminate(grace time.Duration) error {
	s.mu.Lock()
	admin, exited, cmd := s.admin, s.exited, s.cmd
	s.admin = nil
	s.mu.Unlock()
	if admin != nil {
		admin.Close()
	}
	if cmd == nil || exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	pid := s.Pid()
	if pid == 0 {
		pid = cmd.Process.Pid
	}
	if grace > 0 {
		syscall.Kill(pid, syscall.SIGTERM)
		syscall.Kill(pid, syscall.SIGCONT) // a paused server acts on SIGTERM only once continued
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	cmd.Process.Kill() // the wrapper, when CommandPrefix forked
	select {
	case <-exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("mariadbtest: pid %d did not exit after SIGKILL", pid)
	}
}

// Restart starts mariadbd again on the same datadir and port after
// Shutdown or Kill.
func (s *Server) Restart() error {
	if s.Running() {
		return fmt.Errorf("mariadbtest: restart %s: still running", s.Addr)
	}
	if s.stopped {
		return fmt.Errorf("mariadbtest: restart %s: already stopped and removed", s.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StartTimeout)
	defer cancel()
	return s.start(ctx)
}

// Stop terminates mariadbd (SIGTERM, then SIGKILL after 10s) and removes
// its directory. It is safe to call more than once.
func (s *Server) Stop() error {
	err := s.terminate(10 * time.Second)
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	if rerr := os.RemoveAll(s.Dir); rerr != nil && err == nil {
		err = fmt.Errorf("mariadbtest: remove %s: %w", s.Dir, rerr)
	}
	return err
}

// ErrorLogTail returns the last n lines of mariadbd's error log.
func (s *Server) ErrorLogTail(n int) string {
	b, err := os.ReadFile(s.errLog)
	if err != nil {
		return ""
	}
	return tail(string(b), n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func head(s string, n int) string {
	lines := strings.SplitAfterN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

// quote returns s as a single-quoted SQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

// ExecContext runs one statement as root over the socket.
func (s *Server) ExecContext(ctx context.Context, query string, args ...any) error {
	db := s.DB()
	if db == nil {
		return fmt.Errorf("mariadbtest: exec on %s: server not running", s.Addr)
	}
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("mariadbtest: exec %q on %s: %w", query, s.Addr, err)
	}
	return nil
}

// execNoBinlog runs one statement as root with sql_log_bin=0, so it does not
// enter this server's binary log (and GTID history).
func (s *Server) execNoBinlog(ctx context.Context, query string) error {
	db := s.DB()
	if db == nil {
		return fmt.Errorf("mariadbtest: exec on %s: server not running", s.Addr)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("mariadbtest: connect to %s: %w", s.Addr, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return fmt.Errorf("mariadbtest: sql_log_bin on %s: %w", s.Addr, err)
	}
	_, err = conn.ExecContext(ctx, query)
	// Do not hand a session with sql_log_bin=0 back to the pool.
	conn.ExecContext(ctx, "SET SESSION sql_log_bin = 1")
	if err != nil {
		return fmt.Errorf("mariadbtest: exec %q on %s: %w", query, s.Addr, err)
	}
	return nil
}

// QueryStringContext returns the first column of the first row of query, as
// root over the socket; NULL reads as "".
func (s *Server) QueryStringContext(ctx context.Context, query string, args ...any) (string, error) {
	db := s.DB()
	if db == nil {
		return "", fmt.Errorf("mariadbtest: query on %s: server not running", s.Addr)
	}
	var v sql.NullString
	if err := db.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return "", fmt.Errorf("mariadbtest: query %q on %s: %w", query, s.Addr, err)
	}
	return v.String, nil
}

// CreateUser creates user@'%' with the given privileges on *.*, outside
// the binary log.
func (s *Server) CreateUser(ctx context.Context, user, pass, privileges string) error {
	if err := s.execNoBinlog(ctx, fmt.Sprintf("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", quote(user), quote(pass))); err != nil {
		return err
	}
	if privileges == "" {
		return nil
	}
	return s.execNoBinlog(ctx, fmt.Sprintf("GRANT %s ON *.* TO %s@'%%'", privileges, quote(user)))
}

// ReplicateFrom makes s a GTID replica of primary (MASTER_USE_GTID=slave_pos)
// and waits until both replica threads run. The replication account is
// created on both servers, so the direction can later be reversed.
func (s *Server) ReplicateFrom(ctx context.Context, primary *Server) error {
	for _, srv := range []*Server{primary, s} {
		if err := srv.CreateUser(ctx, ReplUser, ReplPassword, "REPLICATION SLAVE"); err != nil {
			return err
		}
	}
	stmts := []string{
		"STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%d, MASTER_USER=%s, MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
			quote(primary.Host), primary.Port, quote(ReplUser), quote(ReplPassword)),
		"START SLAVE",
	}
	for _, q := range stmts {
		if err := s.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return s.WaitReplicaRunning(ctx)
}

// WaitReplicaRunning waits until Slave_IO_Running and Slave_SQL_Running
// are both Yes, and fails early on a replication error.
func (s *Server) WaitReplicaRunning(ctx context.Context) error {
	for {
		st, err := s.slaveStatus(ctx)
		if err != nil {
			return err
		}
		if st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
			return nil
		}
		if e := st["Last_SQL_Error"]; e != "" {
			return fmt.Errorf("mariadbtest: replica %s: Last_SQL_Error=%s", s.Addr, e)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("mariadbtest: replica %s not running (IO %s, SQL %s, Last_IO_Error=%q): %w",
				s.Addr, st["Slave_IO_Running"], st["Slave_SQL_Running"], st["Last_IO_Error"], ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// slaveStatus returns SHOW SLAVE STATUS as a column->value map (empty when
// s is no replica).
func (s *Server) slaveStatus(ctx context.Context) (map[string]string, error) {
	db := s.DB()
	if db == nil {
		return nil, fmt.Errorf("mariadbtest: slave status on %s: server not running", s.Addr)
	}
	m, err := SlaveStatus(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("mariadbtest: slave status on %s: %w", s.Addr, err)
	}
	return m, nil
}

// SlaveStatus reads SHOW SLAVE STATUS on db into a column->value map
// (empty when the server is no replica).
func SlaveStatus(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, c := range cols {
			m[c] = vals[i].String
		}
	}
	return m, rows.Err()
}

// WaitForPosition waits until s's @@gtid_slave_pos covers primary's current
// @@gtid_binlog_pos, using MASTER_GTID_WAIT with a server-side timeout.
func (s *Server) WaitForPosition(ctx context.Context, primary *Server, timeout time.Duration) error {
	pos, err := primary.QueryStringContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return err
	}
	r, err := s.QueryStringContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, timeout.Seconds())
	if err != nil {
		return err
	}
	if r != "0" {
		return fmt.Errorf("mariadbtest: replica %s did not reach %q within %s (MASTER_GTID_WAIT=%s)", s.Addr, pos, timeout, r)
	}
	return nil
}
