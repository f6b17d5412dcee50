package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a background process started in a node's namespace, in its own
// process group, with stdout and stderr appended to Log.
type Proc struct {
	Name string // short label, also the log file's stem
	Node *Node
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// PID returns the process id (also its process group id).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns how the process ended, once Done is closed.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop sends SIGTERM to the process group, then SIGKILL when it has not
// exited within grace, and waits (bounded) for it to be reaped.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	pgid := p.PID()
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stop %s on %s: pid %d still running after SIGKILL", p.Name, p.Node.Name, pgid)
	}
}

// Start runs name with args in the background in n's namespace, in a new
// process group, logging to <node dir>/<label>.log, and records it so Close
// and Down stop it. It takes no context on purpose: it runs until Stop,
// Close or Down (or its own exit), even after the starting process exits.
func (l *Lab) Start(n *Node, label, name string, args ...string) (*Proc, error) {
	return l.start(n, label, exec.Command("ip", append([]string{"netns", "exec", n.NS, name}, args...)...), false)
}

// StartShared is Start for a process that must see the machine's files as
// the commands StartIn runs see them: it enters n's network namespace only,
// where `ip netns exec` also gives the process a mount namespace of its
// own. serve runs a CLI's drain only for a CLI in its mount namespace.
func (l *Lab) StartShared(n *Node, label, name string, args ...string) (*Proc, error) {
	return l.start(n, label, exec.Command(name, args...), true)
}

func (l *Lab) start(n *Node, label string, cmd *exec.Cmd, shared bool) (*Proc, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("start %s on %s: lab is closed", label, n.Name)
	}
	logPath := filepath.Join(n.Dir, label+".log")
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s on %s: %w", label, n.Name, err)
	}
	defer logf.Close() // the child has its own copy
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if shared {
		err = l.StartIn(n, cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s on %s: %w", label, n.Name, err)
	}
	p := &Proc{Name: label, Node: n, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tick, _ := startTicks(p.PID())
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	if err := l.writeRecord(func(r *record) {
		r.Procs = append(r.Procs, procEntry{Name: label, Node: n.Name, PID: p.PID(), StartTick: tick})
	}); err != nil {
		_ = p.Stop(time.Second)
		return nil, fmt.Errorf("start %s on %s: %w", label, n.Name, err)
	}
	l.log.Debug("started", "node", n.Name, "proc", label, "pid", p.PID())
	return p, nil
}

// StartKeepalived starts keepalived (VRRP only, foreground, logging with
// detail to n.KeepalivedLog and not to syslog) on n with the node's generated config and
// waits until it reports "Startup complete", at most 10 s.
func (l *Lab) StartKeepalived(ctx context.Context, n *Node) (*Proc, error) {
	if n.Priority == 0 {
		return nil, fmt.Errorf("start keepalived on %s: not a keepalived node", n.Name)
	}
	pid := func(s string) string { return filepath.Join(n.Dir, "keepalived"+s+".pid") }
	// -G: without a syslog daemon (none runs on a test machine), glibc's
	// syslog writes each line to /dev/console instead, a serial console
	// that took 3-4 ms per line here: keepalived logs five lines between
	// a priority-0 advert and adding the VIP. A host with journald takes
	// microseconds per line, so the lab logs to its file alone.
	p, err := l.Start(n, "keepalived", "keepalived", "-f", n.KeepalivedConf, "-n", "-l", "-D", "-G", "--vrrp",
		"-p", pid(""), "-r", pid("-vrrp"), "-c", pid("-checker"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(p.Log); err == nil && bytes.Contains(b, []byte("Startup complete")) {
			return p, nil
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("start keepalived on %s: exited (%v); log ends:\n%s", n.Name, p.Err(), Tail(p.Log, 20))
		case <-ctx.Done():
			return nil, fmt.Errorf("start keepalived on %s: no \"Startup complete\" (%w); log ends:\n%s", n.Name, ctx.Err(), Tail(p.Log, 20))
		case <-tick.C:
		}
	}
}

// Tail returns the last n lines of the file at path, or a note why not.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops every process the lab started (SIGTERM to each process group,
// SIGKILL after 3 s), kills anything else still running in its namespaces,
// deletes the namespaces and removes the lab directory. It is idempotent;
// it keeps going past each failure and reports them all.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()

	// In parallel: keepalived alone takes about 1 s to stop on SIGTERM.
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.Stop(3 * time.Second) })
	}
	wg.Wait()
	// Then whatever the record knows beyond this process (a lab from Open).
	errs = append(errs, l.down())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close lab %s: %w", l.ID, err)
	}
	l.log.Info("lab down", "id", l.ID)
	return nil
}

// Down tears down the lab id under base (empty: DefaultBase) from its
// on-disk record, from any process: it stops the recorded processes, kills
// whatever else runs in the lab's namespaces, deletes them and removes the
// directory. A lab that is already gone is not an error.
func Down(base, id string) error {
	l, err := Layout(base, id)
	if err != nil {
		return fmt.Errorf("down: %w", err)
	}
	if err := l.down(); err != nil {
		return fmt.Errorf("down %s: %w", id, err)
	}
	return nil
}

// down stops the processes in the record that still run (SIGTERM to the
// group, up to 3 s), then tears down namespaces and directory.
func (l *Lab) down() error {
	var errs []error
	r, err := readRecord(l.Dir)
	switch {
	case err == nil:
		var live []procEntry
		for _, p := range r.Procs {
			if t, err := startTicks(p.PID); err == nil && t == p.StartTick {
				_ = syscall.Kill(-p.PID, syscall.SIGTERM)
				live = append(live, p)
			}
		}
		deadline := time.Now().Add(3 * time.Second)
		for _, p := range live {
			for time.Now().Before(deadline) {
				if t, err := startTicks(p.PID); err != nil || t != p.StartTick || procState(p.PID) == 'Z' {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		errs = append(errs, err)
	}
	namespaces := l.namespaces()
	for _, ns := range r.Namespaces { // a record from another layout version
		if !contains(namespaces, ns) && strings.HasPrefix(ns, nsPrefix+l.ID+"-") {
			namespaces = append(namespaces, ns)
		}
	}
	if err := teardown(l.Dir, namespaces); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// teardown kills every process left in the namespaces, deletes them and
// removes dir. Missing namespaces and directories are fine.
func teardown(dir string, namespaces []string) error {
	var errs []error
	for _, ns := range namespaces {
		if !nsExists(ns) {
			continue
		}
		if err := killNamespace(ns); err != nil {
			errs = append(errs, err)
		}
		if err := run(context.Background(), "ip", "netns", "del", ns); err != nil && nsExists(ns) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

func nsExists(ns string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", ns))
	return err == nil
}

// killNamespace SIGKILLs every process in ns and waits (at most 5 s) until
// none is left. Everything in a lab namespace was started by the lab.
func killNamespace(ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := nsPIDs(ns)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s: processes %v survive SIGKILL", ns, pids)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// nsPIDs lists the processes in ns ("ip netns pids"), without zombies that
// only wait to be reaped by their parent.
func nsPIDs(ns string) ([]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil, fmt.Errorf("list processes in %s: %w", ns, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("list processes in %s: %q is not a pid", ns, f)
		}
		if procState(pid) == 'Z' {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// statFields returns the fields of /proc/PID/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

func procState(pid int) byte {
	f, err := statFields(pid)
	if err != nil || len(f) == 0 || len(f[0]) == 0 {
		return 0
	}
	return f[0][0]
}

// startTicks returns the start time of pid in clock ticks since boot
// (field 22 of /proc/PID/stat); with the pid it identifies one process.
func startTicks(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 { // field 22 is index 19 after pid and comm
		return 0, fmt.Errorf("parse /proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// LogSize returns the current size of the log at path (0 when missing), an
// offset for WaitForLog.
func LogSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// WaitForLog waits until the log at path contains substr after byte offset
// from and returns the offset just past the match. It polls every 10 ms and
// fails when ctx ends first.
func WaitForLog(ctx context.Context, path string, from int64, substr string) (int64, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil && int64(len(b)) > from {
			if i := bytes.Index(b[from:], []byte(substr)); i >= 0 {
				return from + int64(i+len(substr)), nil
			}
		}
		select {
		case <-ctx.Done():
			return from, fmt.Errorf("wait for %q in %s: %w", substr, path, ctx.Err())
		case <-tick.C:
		}
	}
}

// StartPair starts keepalived on A, waits (at most 15 s) until A holds the
// VIP, then starts keepalived on B and waits until B has entered BACKUP
// and heard A's adverts for settle. Both nodes must already be eligible
// (their track file and script say healthy).
func (l *Lab) StartPair(ctx context.Context, settle time.Duration) error {
	if _, err := l.StartKeepalived(ctx, l.A); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := l.WaitVIP(ctx, l.A); err != nil {
		return fmt.Errorf("start pair: %w; keepalived log of a ends:\n%s", err, Tail(l.A.KeepalivedLog, 20))
	}
	if err := l.startBackup(ctx, l.B, settle); err != nil {
		return fmt.Errorf("start pair: %w", err)
	}
	return nil
}

// startBackup starts keepalived on n and waits until it has entered BACKUP
// and heard the master's adverts for settle.
func (l *Lab) startBackup(ctx context.Context, n *Node, settle time.Duration) error {
	if _, err := l.StartKeepalived(ctx, n); err != nil {
		return err
	}
	if _, err := WaitForLog(ctx, n.KeepalivedLog, 0, "Entering BACKUP STATE"); err != nil {
		return err
	}
	select {
	case <-time.After(settle):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StartAll starts keepalived on every keepalived node: StartPair for A and
// B, then, in a three-node lab, D, waiting until D too has entered BACKUP
// and heard the master's adverts for settle. A holds the VIP.
func (l *Lab) StartAll(ctx context.Context, settle time.Duration) error {
	if l.D == nil {
		return l.StartPair(ctx, settle)
	}
	if err := l.StartPair(ctx, 0); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := l.startBackup(ctx, l.D, settle); err != nil {
		return fmt.Errorf("start all: %w", err)
	}
	return nil
}
