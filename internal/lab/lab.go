// Package lab builds a two-node keepalived pair plus a client on network
// namespaces of this machine, for end-to-end tests, benchmarks and the
// operator's lab script; with Config.Nodes 3, a third keepalived node D.
//
// Layout of a lab called ID (8 hex digits) under Base (default /run):
//
//	namespaces   hacheck-ID-br (bridge br0), hacheck-ID-a, hacheck-ID-b, hacheck-ID-c
//	addresses    a 192.0.2.11/24, b 192.0.2.12/24, client 192.0.2.13/24, VIP 192.0.2.100/24
//	             (each on eth0, a veth whose peer sits on br0 in the bridge namespace)
//	directories  Base/hacheck-lab-ID/{a,b,c}/ with bin/hacheck, hacheck.yaml,
//	             state/ (state.json, keepalived.track), keepalived.conf, *.pid, *.log;
//	             Base/hacheck-lab-ID/lab.json records namespaces and started processes
//	priorities   a 254, b 253 (examples/keepalived.conf)
//
// A three-node lab (Config.Nodes 3) adds the keepalived node d, with the
// same kind of namespace (hacheck-ID-d), directory (Base/hacheck-lab-ID/d/)
// and files, at 192.0.2.14/24, priority 252, and renders every node's
// keepalived.conf from examples/keepalived-three.conf. Everything of the
// two-node lab keeps its name, so "c" stays the client: the third
// database node, called c in the issue that asked for it (a primary, b and
// c replicas, b the higher priority), is d here. Open recognises a
// three-node lab by d's namespace in its record.
//
// Nothing is created in the root namespace: every link is created directly
// inside a lab namespace. Every directory is root-owned and not writable by
// group or other, as keepalived's enable_script_security demands of the
// script path. Close (or Down, from another process) kills every process
// started, everything still running in the namespaces, deletes the
// namespaces and the directory.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultBase is where lab directories go when Config.Base is empty. It
	// must be root-owned and not world-writable (so not /tmp).
	DefaultBase = "/run"
	dirPrefix   = "hacheck-lab-"
	nsPrefix    = "hacheck-"
	recordFile  = "lab.json"
	bridgeName  = "br0"
	ifName      = "eth0"
)

// VRRP priorities of the lab's nodes, as examples/keepalived.conf
// recommends: high and distinct, so the node that takes over after a
// FAULT waits only its skew time, (256 - priority)/256 x advert_int (8 and
// 12 ms at advert_int 1). 255 is reserved for the address owner.
const (
	PriorityA = 254
	PriorityB = 253
	// PriorityD is the third node's, below B's: B is the successor
	// keepalived would pick on its own, so a move to D must hold B back.
	PriorityD = 252
)

// Addresses used by every lab (documentation range, RFC 5737).
var (
	AddrA      = netip.MustParsePrefix("192.0.2.11/24")
	AddrB      = netip.MustParsePrefix("192.0.2.12/24")
	AddrClient = netip.MustParsePrefix("192.0.2.13/24")
	AddrD      = netip.MustParsePrefix("192.0.2.14/24")
	VIP        = netip.MustParsePrefix("192.0.2.100/24")
)

// Config says how to build a lab. The zero value is not usable: Hacheck is
// required.
type Config struct {
	// Hacheck is the binary keepalived runs as "<Hacheck> check --config
	// ...". It is copied into each node's directory, so it may live
	// anywhere (a go build output under /tmp is fine).
	Hacheck string
	// Front, when set, is the lean front (cmd/hacheck-front): it becomes
	// each node's hacheck (what keepalived and the lab run) and Hacheck
	// goes where the front runs it from, <bin>/../lib/hacheck/hacheck, as
	// the package installs them.
	Front string
	// KeepalivedExample is the template for each node's keepalived.conf;
	// empty means examples/keepalived.conf of the enclosing module
	// (examples/keepalived-three.conf for a three-node lab).
	KeepalivedExample string
	// Nodes is the number of keepalived nodes: 0 or 2 for the pair A, B;
	// 3 adds D (see the package doc).
	Nodes int
	// Base is the parent of the lab directory; empty means DefaultBase.
	Base string
	// Logger receives the lab's own progress; nil means discard.
	Logger *slog.Logger
	// KeepalivedParams, when not nil, returns extra or replacement
	// "$NAME=value" definitions for n's keepalived.conf, merged over
	// n.KeepalivedParams(). A template that is not examples/keepalived.conf
	// (a benchmark baseline) uses it for its own parameters.
	KeepalivedParams func(n *Node) map[string]string
	// Persistent marks a lab meant to outlive the process that built it
	// (the operator's lab script). Other labs record their owner process,
	// and ReapOrphans removes them once that process is gone (a test
	// binary killed by -timeout never runs its cleanups).
	Persistent bool
}

// Node is one host of the lab. All paths are absolute.
type Node struct {
	Name     string       // "a", "b", "d" (three-node lab only) or "c" (client)
	NS       string       // network namespace
	Addr     netip.Prefix // address on eth0
	Priority int          // VRRP priority; 0 for the client
	Dir      string

	Hacheck        string // the node's copy of the hacheck binary
	HacheckConfig  string // hacheck.yaml
	StateDir       string
	TrackFile      string // StateDir/keepalived.track
	KeepalivedConf string
	KeepalivedLog  string
}

// Lab is a running (or planned, see Layout) lab. Its methods are safe for
// concurrent use.
type Lab struct {
	ID       string
	Dir      string
	BridgeNS string
	A, B     *Node
	Client   *Node
	D        *Node // the third keepalived node; nil in a two-node lab

	log *slog.Logger

	mu     sync.Mutex
	procs  []*Proc
	closed bool
}

// record is what lab.json holds: enough for Down to clean up from another
// process.
type record struct {
	ID         string      `json:"id"`
	Namespaces []string    `json:"namespaces"`
	Procs      []procEntry `json:"procs"`
	Owner      *procEntry  `json:"owner,omitempty"` // nil for a Persistent lab
}

type procEntry struct {
	Name      string `json:"name"`
	Node      string `json:"node"`
	PID       int    `json:"pid"`
	StartTick uint64 `json:"start_ticks"` // /proc/PID/stat field 22, guards against pid reuse
}

// Layout returns the two-node lab called id under base as New would build
// it, without creating anything. id must be a non-empty string of letters
// and digits, at most 12 characters.
func Layout(base, id string) (*Lab, error) { return layout(base, id, 2) }

// LayoutN is Layout for a lab of nodes keepalived nodes (2 or 3).
func LayoutN(base, id string, nodes int) (*Lab, error) {
	if nodes != 2 && nodes != 3 {
		return nil, fmt.Errorf("lab of %d nodes: want 2 or 3", nodes)
	}
	return layout(base, id, nodes)
}

func layout(base, id string, nodes int) (*Lab, error) {
	if base == "" {
		base = DefaultBase
	}
	if id == "" || len(id) > 12 || strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return nil, fmt.Errorf("lab id %q: want 1 to 12 letters or digits", id)
	}
	dir := filepath.Join(base, dirPrefix+id)
	l := &Lab{ID: id, Dir: dir, BridgeNS: nsPrefix + id + "-br", log: slog.New(slog.DiscardHandler)}
	mk := func(name string, addr netip.Prefix, prio int) *Node {
		nd := filepath.Join(dir, name)
		state := filepath.Join(nd, "state")
		return &Node{
			Name: name, NS: nsPrefix + id + "-" + name, Addr: addr, Priority: prio, Dir: nd,
			Hacheck:        filepath.Join(nd, "bin", "hacheck"),
			HacheckConfig:  filepath.Join(nd, "hacheck.yaml"),
			StateDir:       state,
			TrackFile:      filepath.Join(state, "keepalived.track"),
			KeepalivedConf: filepath.Join(nd, "keepalived.conf"),
			KeepalivedLog:  filepath.Join(nd, "keepalived.log"),
		}
	}
	l.A = mk("a", AddrA, PriorityA)
	l.B = mk("b", AddrB, PriorityB)
	l.Client = mk("c", AddrClient, 0)
	if nodes == 3 {
		l.D = mk("d", AddrD, PriorityD)
	}
	return l, nil
}

// Nodes returns A, B and the client, then D in a three-node lab.
func (l *Lab) Nodes() []*Node {
	if l.D != nil {
		return []*Node{l.A, l.B, l.Client, l.D}
	}
	return []*Node{l.A, l.B, l.Client}
}

// Pair returns A and B, the keepalived nodes of a two-node lab (the first
// two of a three-node one).
func (l *Lab) Pair() []*Node { return []*Node{l.A, l.B} }

// Keepalived returns every keepalived node: A and B, then D in a
// three-node lab.
func (l *Lab) Keepalived() []*Node {
	if l.D != nil {
		return []*Node{l.A, l.B, l.D}
	}
	return l.Pair()
}

// Node returns the node called name ("a", "b", "c", "d"), or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.Nodes() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (l *Lab) namespaces() []string {
	out := []string{l.BridgeNS}
	for _, n := range l.Nodes() {
		out = append(out, n.NS)
	}
	return out
}

// KeepalivedParams are the per-node definitions substituted into
// examples/keepalived.conf for this node.
func (n *Node) KeepalivedParams() map[string]string {
	return map[string]string{
		"IFACE":          ifName,
		"PRIORITY":       strconv.Itoa(n.Priority),
		"VIP":            VIP.String(),
		"HACHECK":        n.Hacheck,
		"HACHECK_CONFIG": n.HacheckConfig,
		"TRACK_FILE":     n.TrackFile,
	}
}

// HacheckYAML is the hacheck.yaml New writes for the node: no checks, the
// lab's state dir and VIP, and the node's own keepalived.conf for serve to
// review (not the host's). Tests may overwrite n.HacheckConfig.
func (n *Node) HacheckYAML() string {
	return fmt.Sprintf(`node: %s
state_dir: %s
listen: ":8530"
check_timeout: 2s
checks: []
preconditions_dir: %s
vip:
  address: %s
  interface: %s
keepalived:
  config: %s
`, n.Name, n.StateDir, filepath.Join(n.Dir, "preconditions.d"), VIP, ifName, n.KeepalivedConf)
}

// New builds a lab: directories, per-node files, namespaces, the bridge
// and addresses. It starts no process; see StartKeepalived and Start. On
// error everything created so far is removed again.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if cfg.Hacheck == "" {
		return nil, errors.New("new lab: Config.Hacheck is empty")
	}
	nodes := cfg.Nodes
	if nodes == 0 {
		nodes = 2
	}
	if nodes != 2 && nodes != 3 {
		return nil, fmt.Errorf("new lab: Config.Nodes %d: want 2 or 3", cfg.Nodes)
	}
	example := cfg.KeepalivedExample
	if example == "" {
		name := "examples/keepalived.conf"
		if nodes == 3 {
			name = "examples/keepalived-three.conf"
		}
		var err error
		if example, err = RepoFile(name); err != nil {
			return nil, fmt.Errorf("new lab: %w", err)
		}
	}
	src, err := os.ReadFile(example)
	if err != nil {
		return nil, fmt.Errorf("new lab: %w", err)
	}
	base := cfg.Base
	if base == "" {
		base = DefaultBase
	}
	var l *Lab
	for range 5 { // a fresh id whose directory does not exist yet
		if l, err = layout(base, randomID(), nodes); err != nil {
			return nil, fmt.Errorf("new lab: %w", err)
		}
		if err = os.Mkdir(l.Dir, 0o700); err == nil || !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("new lab: %w", err)
	}
	if cfg.Logger != nil {
		l.log = cfg.Logger
	}
	var owner *procEntry
	if !cfg.Persistent {
		tick, err := startTicks(os.Getpid())
		if err != nil {
			return nil, fmt.Errorf("new lab: %w", err)
		}
		owner = &procEntry{Name: "owner", PID: os.Getpid(), StartTick: tick}
	}
	if err := l.build(ctx, src, cfg.Hacheck, cfg.Front, owner, cfg.KeepalivedParams); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, fmt.Errorf("new lab: %w", err)
	}
	l.log.Info("lab up", "id", l.ID, "dir", l.Dir)
	return l, nil
}

func (l *Lab) build(ctx context.Context, keepalivedSrc []byte, hacheck, front string, owner *procEntry, extra func(*Node) map[string]string) error {
	if err := l.writeRecord(func(r *record) { r.Owner = owner }); err != nil {
		return err
	}
	for _, n := range l.Nodes() {
		for _, d := range []string{n.Dir, filepath.Dir(n.Hacheck), n.StateDir, filepath.Join(n.Dir, "preconditions.d")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if front == "" {
			err := n.InstallHacheck(hacheck)
			if err != nil {
				return err
			}
		} else {
			full := filepath.Join(filepath.Dir(filepath.Dir(n.Hacheck)), "lib", "hacheck", "hacheck")
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				return err
			}
			if err := installBinary(hacheck, full); err != nil {
				return fmt.Errorf("install hacheck on %s: %w", n.Name, err)
			}
			if err := n.InstallHacheck(front); err != nil {
				return err
			}
		}
		if err := CheckScriptSecurity(n.Hacheck); err != nil {
			return err
		}
		if err := os.WriteFile(n.HacheckConfig, []byte(n.HacheckYAML()), 0o644); err != nil {
			return err
		}
		if n.Priority == 0 {
			continue
		}
		params := n.KeepalivedParams()
		if extra != nil {
			for k, v := range extra(n) {
				params[k] = v
			}
		}
		conf, err := RenderKeepalivedConf(keepalivedSrc, params)
		if err != nil {
			return err
		}
		if err := os.WriteFile(n.KeepalivedConf, conf, 0o644); err != nil {
			return err
		}
	}
	for _, ns := range l.namespaces() {
		if err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	br := l.BridgeNS
	steps := [][]string{
		{"ip", "-n", br, "link", "set", "lo", "up"},
		{"ip", "-n", br, "link", "add", bridgeName, "type", "bridge"},
		{"ip", "-n", br, "link", "set", bridgeName, "up"},
	}
	for _, n := range l.Nodes() {
		peer := "veth-" + n.Name
		steps = append(steps,
			// Created inside the node namespace with its peer placed
			// straight into the bridge namespace: never in the root one.
			[]string{"ip", "-n", n.NS, "link", "add", ifName, "type", "veth", "peer", "name", peer, "netns", br},
			[]string{"ip", "-n", br, "link", "set", peer, "master", bridgeName},
			[]string{"ip", "-n", br, "link", "set", peer, "up"},
			[]string{"ip", "-n", n.NS, "link", "set", "lo", "up"},
			[]string{"ip", "-n", n.NS, "addr", "add", n.Addr.String(), "dev", ifName},
			[]string{"ip", "-n", n.NS, "link", "set", ifName, "up"},
		)
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// InstallHacheck copies the binary at src to n.Hacheck (root-owned, 0755),
// atomically, so a running keepalived picks up the new one at its next
// check. Use it to swap in a stand-in such as /bin/false.
func (n *Node) InstallHacheck(src string) error {
	if err := installBinary(src, n.Hacheck); err != nil {
		return fmt.Errorf("install hacheck on %s: %w", n.Name, err)
	}
	return nil
}

// installBinary copies src to dst (0755), atomically.
func installBinary(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".hacheck-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	return err
}

// WriteTrack replaces the node's keepalived track file with value ("0" up,
// "1" drained) the way hacheck does: temp file in the same directory,
// fsync, rename. It stands in for hacheck drain/undrain in tests that run
// without the hacheck binary.
func (n *Node) WriteTrack(value string) error {
	tmp, err := os.CreateTemp(n.StateDir, ".track-*")
	if err != nil {
		return fmt.Errorf("write track file of %s: %w", n.Name, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(value + "\n")
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), n.TrackFile)
	}
	if err != nil {
		return fmt.Errorf("write track file of %s: %w", n.Name, err)
	}
	return nil
}

// Open returns the lab id under base (empty: DefaultBase) that another
// process built, for status queries, Exec and Close. Processes it did not
// start are known only from the record; Close stops them like Down.
func Open(base, id string) (*Lab, error) {
	l, err := Layout(base, id)
	if err != nil {
		return nil, fmt.Errorf("open lab: %w", err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, recordFile)); err != nil {
		return nil, fmt.Errorf("open lab %s: %w", id, err)
	}
	// An unreadable record opens as the two-node layout, as before there
	// were three-node labs; Close and Down report the record's problem.
	if r, err := readRecord(l.Dir); err == nil {
		if three, _ := layout(base, id, 3); contains(r.Namespaces, three.D.NS) {
			return three, nil
		}
	}
	return l, nil
}

// List returns the ids of the labs under base (empty: DefaultBase).
func List(base string) ([]string, error) {
	if base == "" {
		base = DefaultBase
	}
	matches, err := filepath.Glob(filepath.Join(base, dirPrefix+"*"))
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	var ids []string
	for _, m := range matches {
		ids = append(ids, strings.TrimPrefix(filepath.Base(m), dirPrefix))
	}
	return ids, nil
}

// ReapOrphans tears down (as Down) every lab under base (empty:
// DefaultBase) whose owner process has exited without closing it, and
// returns the ids it removed. Persistent labs are left alone.
func ReapOrphans(base string) ([]string, error) {
	ids, err := List(base)
	if err != nil {
		return nil, err
	}
	var reaped []string
	var errs []error
	for _, id := range ids {
		l, err := Layout(base, id)
		if err != nil {
			continue // not ours
		}
		r, err := readRecord(l.Dir)
		if err != nil || r.Owner == nil {
			continue // being built, or persistent
		}
		if t, err := startTicks(r.Owner.PID); err == nil && t == r.Owner.StartTick {
			continue // owner alive
		}
		if err := Down(base, id); err != nil {
			errs = append(errs, err)
			continue
		}
		reaped = append(reaped, id)
	}
	if err := errors.Join(errs...); err != nil {
		return reaped, fmt.Errorf("reap orphan labs: %w", err)
	}
	return reaped, nil
}

// Exec runs name with args in n's namespace and returns its combined
// output. The error includes the output.
func (l *Lab) Exec(ctx context.Context, n *Node, name string, args ...string) ([]byte, error) {
	cmd := l.Command(ctx, n, name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("exec %s in %s: %w: %s", name, n.NS, err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Command returns an exec.Cmd running name with args in n's namespace,
// killed when ctx ends, for callers that need their own stdio.
func (l *Lab) Command(ctx context.Context, n *Node, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.NS, name}, args...)...)
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

func run(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // never fails on Linux
	return hex.EncodeToString(b)
}

// writeRecord applies change to lab.json under the lab's lock and saves it
// atomically.
func (l *Lab) writeRecord(change func(*record)) error {
	path := filepath.Join(l.Dir, recordFile)
	r := record{ID: l.ID}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read lab record: %w", err)
	}
	r.Namespaces = l.namespaces()
	change(&r)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode lab record: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write lab record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write lab record: %w", err)
	}
	return nil
}

func readRecord(dir string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("read lab record in %s: %w", dir, err)
	}
	return r, nil
}

// RepoFile finds rel (e.g. "examples/keepalived.conf") in the module that
// encloses the working directory, walking up to the directory with go.mod.
func RepoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", rel, err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("find %s: %w", rel, err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find %s: no go.mod above the working directory", rel)
		}
		dir = parent
	}
}

// Persistent reports whether the lab id under base (empty: DefaultBase)
// was built with Config.Persistent (by the operator's lab script), as
// opposed to being owned by a running test or benchmark.
func Persistent(base, id string) (bool, error) {
	l, err := Layout(base, id)
	if err != nil {
		return false, err
	}
	r, err := readRecord(l.Dir)
	if err != nil {
		return false, fmt.Errorf("lab %s: %w", id, err)
	}
	return r.Owner == nil, nil
}
