package cutover

import (
	"context"
	"fmt"
	"time"

	"github.com/hacheck/hacheck/check"
	hamysql "github.com/hacheck/hacheck/check/mysql"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/vip"
)

// GuardFacts is what SplitBrainGuard gathered; evaluateGuard judges it.
type GuardFacts struct {
	ReadOnly   hamysql.ReadOnlyState
	ReadErr    error
	VIPHeld    bool
	VIPErr     error
	Peer       PeerStatus
	PeerErr    error // includes "peer.url is not set"
	PeerServer string
	// FencePending: notify decided to fence this server and the fence did
	// not land (Record.FencePending).
	FencePending bool
	// NoVIP: no VIP is configured; only a pending fence is enforced.
	NoVIP bool
}

// guardVerdict is what the guard concludes.
type guardVerdict struct {
	OK     bool
	Fence  bool // fence this server now
	Detail string
}

// evaluateGuard decides the split-brain guard. A fence that notify decided
// and could not apply (FencePending) is completed here, as long as this
// node does not hold the VIP. A read-only server is never
// a write target: fine. A writable server is fine while this node holds the
// VIP, and at bootstrap (no node holds the VIP yet: this writable primary
// is the rightful claimant and must be able to take it). A writable server
// on a node without the VIP while the peer holds it is the accident the
// guard exists for (a stale job writing on the standby): unhealthy, and
// fenced at once. When whether the peer holds the VIP cannot be learned,
// the writable server is not fenced (it may be the only survivor) but the
// detail says so.
func evaluateGuard(f GuardFacts) guardVerdict {
	switch {
	case f.ReadErr != nil:
		return guardVerdict{Detail: f.ReadErr.Error()}
	case f.ReadOnly.Fenced():
		return guardVerdict{OK: true, Detail: fmt.Sprintf("read-only (%s): not a write target", f.ReadOnly)}
	case f.NoVIP && f.FencePending:
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("writable (%s), and notify's fence of it failed (no VIP configured)", f.ReadOnly)}
	case f.NoVIP:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s); no VIP configured: only a fence that notify could not apply is enforced", f.ReadOnly)}
	case f.FencePending && (f.VIPErr != nil || !f.VIPHeld):
		where := "without the VIP"
		if f.VIPErr != nil {
			where = fmt.Sprintf("and whether this node holds the VIP is unknown (%v)", f.VIPErr)
		}
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("writable (%s) %s, and notify's fence of it failed", f.ReadOnly, where)}
	case f.VIPErr != nil:
		return guardVerdict{Detail: fmt.Sprintf("writable (%s) and whether this node holds the VIP is unknown: %v", f.ReadOnly, f.VIPErr)}
	case f.VIPHeld:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s) and this node holds the VIP", f.ReadOnly)}
	}
	if f.PeerErr != nil {
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s) without the VIP; whether the peer holds it is unknown (%v): not fencing, this may be the only primary", f.ReadOnly, f.PeerErr)}
	}
	held, known := f.Peer.HoldsVIP()
	switch {
	case !known:
		return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s) without the VIP; peer %s does not report the VIP: not fencing", f.ReadOnly, f.Peer.Node)}
	case held:
		return guardVerdict{Fence: true, Detail: fmt.Sprintf("SPLIT BRAIN: writable (%s) while peer %s holds the VIP", f.ReadOnly, f.Peer.Node)}
	}
	return guardVerdict{OK: true, Detail: fmt.Sprintf("writable (%s); no node holds the VIP yet: this primary is the rightful claimant", f.ReadOnly)}
}

// SplitBrainGuard is the live check that runs automatically when mysql.dsn
// and vip are configured. It fails, and fences the server, when the server
// is writable on a node that does not hold the VIP while the peer (asked on
// peer.url/status) does. It never makes a server writable.
type SplitBrainGuard struct {
	Local        DB
	StateDir     string // where notify records a fence that failed ("": none)
	VIPInterface string
	VIPAddress   string // address only
	PeerURL      string
	PeerTimeout  time.Duration
	// Held overrides the netlink VIP lookup (tests).
	Held func() (bool, error)
}

var _ check.Checker = (*SplitBrainGuard)(nil)

func (g *SplitBrainGuard) Name() string { return "mysql-split-brain" }

func (g *SplitBrainGuard) held() (bool, error) {
	if g.Held != nil {
		return g.Held()
	}
	return vipHeld(g.VIPInterface, g.VIPAddress)
}

func (g *SplitBrainGuard) Check(ctx context.Context) check.Result {
	var f GuardFacts
	var pendingSeq uint64
	if g.StateDir != "" {
		if r, ok, err := LoadRecord(g.StateDir); err == nil && ok && r.FencePending {
			f.FencePending, pendingSeq = true, r.Seq
		}
	}
	f.ReadOnly, f.ReadErr = g.Local.ReadOnly(ctx)
	if f.ReadErr == nil && f.ReadOnly.Fenced() && f.FencePending {
		g.settle(pendingSeq, "the split-brain guard found the server read-only")
	}
	f.NoVIP = g.Held == nil && g.VIPAddress == ""
	if f.ReadErr == nil && !f.ReadOnly.Fenced() && !f.NoVIP {
		f.VIPHeld, f.VIPErr = g.held()
		if f.VIPErr == nil && !f.VIPHeld && !f.FencePending {
			f.Peer, f.PeerErr = FetchPeer(ctx, g.PeerURL, g.PeerTimeout)
		}
	}
	v := evaluateGuard(f)
	if !v.Fence {
		return check.Result{OK: v.OK, Detail: v.Detail}
	}
	if err := g.Local.SetReadOnly(ctx, true); err != nil {
		return check.Result{Detail: v.Detail + "; FENCING FAILED: " + err.Error()}
	}
	if f.FencePending {
		g.settle(pendingSeq, "fenced by the split-brain guard")
	}
	return check.Result{Detail: v.Detail + "; fenced it: now read-only"}
}

// settle marks notify's pending fence done; best effort (a notify that
// holds the lock writes a newer record anyway).
func (g *SplitBrainGuard) settle(seq uint64, how string) {
	_ = SettlePendingFence(g.StateDir, seq, how, 50*time.Millisecond)
}

// BuildChecker builds a check of type mysql (health.MySQLChecker): mode
// alive (the server answers SELECT 1 within the check's timeout) or replica
// (IO and SQL threads running, no error, GTID positioning, and
// Seconds_Behind_* within max_lag when set: lag only ever fails the check).
func BuildChecker(c config.Check, cfg *config.Config) (check.Checker, error) {
	srv, err := Open(c.DSN, cfg)
	if err != nil {
		return nil, err
	}
	switch c.Mode {
	case "", "alive":
		return &hamysql.AliveCheck{CheckName: c.Name, Server: srv}, nil
	case "replica":
		return &hamysql.ReplicaCheck{CheckName: c.Name, Server: srv, MaxLag: c.MaxLag}, nil
	}
	srv.Close()
	return nil, fmt.Errorf("mysql check mode %q is not alive or replica", c.Mode)
}

// AutoCheckers adds the split-brain guard when mysql.dsn is configured
// (health.AutoCheckers); without a vip it only enforces a fence that
// notify could not apply.
func AutoCheckers(cfg *config.Config) ([]health.Entry, error) {
	if cfg.MySQL.DSN == "" {
		return nil, nil
	}
	srv, err := Open(cfg.MySQL.DSN, cfg)
	if err != nil {
		return nil, fmt.Errorf("split-brain guard: mysql.dsn: %w", err)
	}
	g := &SplitBrainGuard{Local: srv, StateDir: cfg.StateDir, PeerURL: cfg.Peer.URL, PeerTimeout: cfg.Peer.Timeout}
	if cfg.VIP.Configured() {
		g.VIPInterface, g.VIPAddress = cfg.VIP.Interface, cfg.VIP.Address.Addr().String()
	}
	return []health.Entry{{Checker: g, Timeout: config.DefaultCheckTimeout, Interval: config.DefaultCheckInterval}}, nil
}

func vipHeld(ifname, addr string) (bool, error) {
	a, err := parseAddr(addr)
	if err != nil {
		return false, err
	}
	return vip.Held(ifname, a)
}
