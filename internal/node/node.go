// Package node is the one place that builds a hacheck node from its
// configuration: the state store, this node's database server and the
// peer's, the peer's hacheck, the VIP view and the live checks, each once.
// The commands and `serve` build a Node and call it; the packages below
// (health, drain, cutover, server, check) take what they use and never
// read the configuration themselves.
//
// With several peers (peers:), a drain moves the primary to one chosen
// successor and holds every other node out of keepalived's election for
// the move; move.go says how and why it is race-free, hold.go what a held
// node does.
//
// One connection pool is opened per distinct DSN (a mysql check on
// mysql.dsn shares the pool of the split-brain guard and the drain steps)
// and every pool is closed once, by Close.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/server"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// EnvNode and EnvStateDir are set for every exec check and precondition
// script: which node runs it, and where its state is.
const (
	EnvNode     = "HACHECK_NODE"
	EnvStateDir = "HACHECK_STATE_DIR"
	EnvDryRun   = "HACHECK_DRY_RUN"
)

// Node is one hacheck node, built once from its configuration.
type Node struct {
	cfg   *config.Config
	log   *slog.Logger
	store state.Store
	peer  peer.Client
	// local is this node's server (mysql.dsn) and peerDB the peer's
	// (peer.mysql_dsn); nil when not configured.
	local, peerDB *db.Server
	// peers is every configured peer (peers:, or peer: as a list of one),
	// each with its hacheck client and its server's pool.
	peers  []*nodePeer
	checks []health.Entry
	pools  map[string]*db.Server // by DSN, closed once by Close
	after  sync.WaitGroup        // work a drain left running (answerStep's lease); Close waits
}

// New builds the node. Opening a pool does not connect, so New fails only
// on what the configuration itself gets wrong.
func New(cfg *config.Config, log *slog.Logger) (n *Node, err error) {
	n = &Node{
		cfg:   cfg,
		log:   log,
		store: state.Store{Dir: cfg.StateDir},
		peer:  peer.Client{URL: cfg.Peer.URL, Timeout: cfg.Peer.Timeout},
		pools: map[string]*db.Server{},
	}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if cfg.MySQL.DSN.IsSet() {
		if n.local, err = n.open(cfg.MySQL.DSN); err != nil {
			return nil, fmt.Errorf("mysql.dsn: %w", err)
		}
	}
	if cfg.Peer.MySQLDSN.IsSet() {
		if n.peerDB, err = n.open(cfg.Peer.MySQLDSN); err != nil {
			return nil, fmt.Errorf("peer.mysql_dsn: %w", err)
		}
	}
	for _, p := range cfg.Peers {
		np := &nodePeer{cfg: p, client: peer.Client{URL: p.URL, Timeout: p.Timeout}}
		if p.MySQLDSN.IsSet() {
			if np.db, err = n.open(p.MySQLDSN); err != nil {
				return nil, fmt.Errorf("peers %s mysql_dsn: %w", p.Name, err)
			}
		}
		n.peers = append(n.peers, np)
	}
	if n.checks, err = n.buildChecks(); err != nil {
		return nil, err
	}
	return n, nil
}

// Close waits for what a drain left running, then closes every pool.
func (n *Node) Close() error {
	n.after.Wait()
	var errs []error
	for _, s := range n.pools {
		errs = append(errs, s.Close())
	}
	n.pools = map[string]*db.Server{}
	return errors.Join(errs...)
}

// open returns the pool for d, opening it the first time, with the
// configured bounds: mysql.query_timeout for calls without a deadline and
// mysql.fence_timeout for the server-side lock wait of SET GLOBAL
// read_only. The dial timeout is capped at mysql.query_timeout (at least
// 500 ms) when the DSN sets none, so an unreachable server fails within
// the caller's budget.
func (n *Node) open(d config.DSN) (*db.Server, error) {
	drv := d.Driver()
	key := drv.FormatDSN()
	if s, ok := n.pools[key]; ok {
		return s, nil
	}
	s, err := db.OpenConfig(drv, n.dbOptions(drv))
	if err != nil {
		return nil, err
	}
	n.pools[key] = s
	return s, nil
}

// dbOptions are the bounds every pool gets (see open).
func (n *Node) dbOptions(drv *mysql.Config) db.Options {
	opts := db.Options{
		QueryTimeout:    n.cfg.MySQL.QueryTimeout,
		LockWaitTimeout: n.cfg.MySQL.FenceTimeout,
		DialTimeout:     min(db.DefaultDialTimeout, max(n.cfg.MySQL.QueryTimeout, 500*time.Millisecond)),
	}
	if drv.Timeout > 0 {
		opts.DialTimeout = 0 // the DSN's own timeout= wins
	}
	return opts
}

// scriptEnv is the environment of exec checks and precondition scripts.
func (n *Node) scriptEnv() []string {
	return []string{EnvNode + "=" + n.cfg.Node, EnvStateDir + "=" + n.cfg.StateDir}
}

// buildChecks makes the configured live checks, then the ones the
// configuration implies: the split-brain guard when mysql.dsn is set.
func (n *Node) buildChecks() ([]health.Entry, error) {
	out := make([]health.Entry, 0, len(n.cfg.Checks)+1)
	for _, c := range n.cfg.Checks {
		var ck check.Checker
		switch c.Type {
		case config.TypeTCP:
			ck = &check.TCP{CheckName: c.Name, Address: c.Address}
		case config.TypeHTTP:
			ck = &check.HTTP{CheckName: c.Name, URL: c.URL}
		case config.TypeExec:
			ck = &check.Exec{CheckName: c.Name, Command: c.Command, Env: n.scriptEnv()}
		case config.TypeGalera:
			var err error
			if ck, err = n.galeraCheck(c); err != nil {
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
		case config.TypeMySQL:
			srv, err := n.open(c.DSN)
			if err != nil {
				return nil, fmt.Errorf("check %s: %w", c.Name, err)
			}
			switch c.Mode {
			case "replica":
				ck = &check.MySQLReplica{CheckName: c.Name, Server: srv, MaxLag: c.MaxLag}
			default:
				ck = &check.MySQLAlive{CheckName: c.Name, Server: srv}
			}
		default:
			return nil, fmt.Errorf("check %s: unknown type %q", c.Name, c.Type)
		}
		out = append(out, health.Entry{Checker: ck, Timeout: c.Timeout, Interval: c.Interval})
	}
	if g := n.guard(); g != nil {
		// The guard's own budget is check_timeout: it keeps room for a fence.
		out = append(out, health.Entry{Checker: g, Timeout: g.Budget, Interval: config.DefaultCheckInterval})
	}
	if j := n.journalCheck(); j != nil {
		out = append(out, *j)
	}
	return out, nil
}

// guard is the split-brain guard, when mysql.dsn is set; without a vip it
// only enforces a fence that notify could not apply.
func (n *Node) guard() *cutover.SplitBrainGuard {
	if n.local == nil {
		return nil
	}
	g := &cutover.SplitBrainGuard{Local: n.local, StateDir: n.cfg.StateDir, PeerStatus: n.peerStatus(), Budget: n.cfg.CheckTimeout, Roles: n.roles()}
	if n.peerDB != nil {
		g.Peer = n.peerDB
	}
	g.Peers = n.guardPeers()
	if n.cfg.VIP.Configured() {
		g.Held = n.vipHeld
	}
	return g
}

// peerStatus reads the peer's hacheck; nil when peer.url is not set.
func (n *Node) peerStatus() func(context.Context) (health.Report, error) {
	if n.peer.URL == "" {
		return nil
	}
	return n.peer.Status
}

// peerVerdict reads the peer's verdict only (peer.Client.Verdict): what
// peer-ready needs; nil when peer.url is not set.
func (n *Node) peerVerdict() func(context.Context) (health.Report, error) {
	if n.peer.URL == "" {
		return nil
	}
	return n.peer.Verdict
}

// vipHeld reads, through netlink, whether this node holds the VIP.
func (n *Node) vipHeld() (bool, error) {
	return vip.Held(n.cfg.VIP.Interface, n.cfg.VIP.Address.Addr())
}

// vipView is what notify and promote know of the VIP; Known is false when
// no VIP is configured.
func (n *Node) vipView() cutover.VIPView {
	if !n.cfg.VIP.Configured() {
		return cutover.VIPView{}
	}
	held, err := n.vipHeld()
	return cutover.VIPView{Known: true, Held: held, Err: err}
}

// VIPStatus is the VIP as status shows it; nil when none is configured.
func (n *Node) VIPStatus() *vip.Status {
	if !n.cfg.VIP.Configured() {
		return nil
	}
	s := vip.Query(n.cfg.VIP.Interface, n.cfg.VIP.Address)
	return &s
}

// MySQLStatus is the last recorded database decision (notify.json); nil
// when there is none or no database is configured.
func (n *Node) MySQLStatus() *health.MySQLStatus {
	if n.local == nil {
		return nil
	}
	r, ok, err := cutover.LoadRecord(n.cfg.StateDir)
	if err != nil {
		return &health.MySQLStatus{Action: cutover.ActionFailed, Detail: "read " + cutover.NotifyRecordName + ": " + err.Error()}
	}
	if !ok {
		return nil
	}
	return &r.MySQLStatus
}

// Evaluate runs every check once within ctx: `hacheck check` (allChecks
// false: checks are skipped when the state alone says unhealthy).
func (n *Node) Evaluate(ctx context.Context, allChecks bool) health.Report {
	rep := health.Evaluate(ctx, n.cfg.Node, n.store, n.checks, allChecks)
	// A hold whose lease has ended no longer counts (the verdict says so);
	// it is cleared here too, which rewrites the track file, so that a node
	// whose holder was killed is eligible again at keepalived's next check
	// even without serve.
	if s := rep.State; s != nil && s.HoldEnded(time.Now()) {
		if _, err := n.store.ExpireHold(time.Now()); err != nil {
			n.log.Warn("cannot clear an expired hold", "err", err)
		}
	}
	return rep
}

// Status is `hacheck status`: every check, the VIP, the database
// decision and the database role as read now.
func (n *Node) Status(ctx context.Context) health.Report {
	rep := n.Evaluate(ctx, true)
	rep.VIP = n.VIPStatus()
	rep.MySQL = n.MySQLStatus()
	if n.local != nil {
		role := n.Role(ctx)
		rep.Role = &role
	}
	rep.Drain = n.DrainStatus()
	rep.Keepalived = n.KeepalivedStatus()
	return rep
}

// HasDatabase reports whether mysql.dsn is set.
func (n *Node) HasDatabase() bool { return n.local != nil }

// DrainPlan is what a drain runs before the flip. The CLI and the admin
// API both use it, so a drain is the same whichever way it is asked for.
//
// With mysql.dsn set, the drain is a database cutover: after the scripts
// in preconditions_dir comes peer-ready (the peer's hacheck is up and its
// server replicates from this one), then the steps fence (this server
// read-only within mysql.fence_timeout, frozen GTID position read) and
// catch-up (the peer applies that position within drain.catchup_timeout).
func (n *Node) DrainPlan(opt drain.Options) (drain.Plan, error) {
	plan, _, err := n.drainPlan(opt)
	return plan, err
}

// drainPlan is DrainPlan, with the move of a drain among several nodes
// (nil for a pair): the finish after the flip needs it.
func (n *Node) drainPlan(opt drain.Options) (drain.Plan, *move, error) {
	env := n.scriptEnv()
	if opt.DryRun {
		env = append(env, EnvDryRun+"=1")
	}
	pre, err := check.ScriptPreconditions(n.cfg.PreconditionsDir, env)
	if err != nil {
		return drain.Plan{}, nil, err
	}
	plan := drain.Plan{Preconditions: pre, PreconditionTimeout: n.cfg.PreconditionTimeout, Recovery: n.recovery()}
	g, err := n.galeraPrecondition()
	if err != nil {
		return drain.Plan{}, nil, err
	}
	if g != nil {
		plan.Preconditions = append(plan.Preconditions, g)
	}
	if n.local == nil {
		if opt.To != "" {
			return drain.Plan{}, nil, fmt.Errorf("%w: --to needs mysql.dsn and peers: (a move to a chosen successor is a database cutover)", drain.ErrRefused)
		}
		return plan, nil, nil
	}
	if n.multi() {
		plan, m := n.movePlan(plan, opt)
		return n.withAnswer(plan), m, nil
	}
	if opt.To != "" && (len(n.peers) == 0 || n.peers[0].name() != opt.To) {
		known := "peer: names no node (use peers: with name to drain --to)"
		if len(n.peers) == 1 && n.peers[0].name() != "" {
			known = "the only peer is " + n.peers[0].name()
		}
		return drain.Plan{}, nil, fmt.Errorf("%w: unknown successor %q: %s; nothing was changed", drain.ErrRefused, opt.To, known)
	}
	ready := &cutover.PeerReady{Local: n.local, Status: n.peerVerdict(), QueryTimeout: n.cfg.MySQL.QueryTimeout}
	if n.peerDB != nil {
		ready.Peer = n.peerDB
	}
	plan.Preconditions = append(plan.Preconditions, ready)
	frozen := &cutover.Frozen{}
	plan.Steps = append(plan.Steps, n.fenceStep(&plan, frozen))
	if n.peerDB != nil {
		plan.Steps = append(plan.Steps, &cutover.CatchUp{Peer: n.peerDB, Timeout: n.cfg.Drain.CatchupTimeout, Frozen: frozen})
	}
	return n.withAnswer(plan), nil, nil
}

// fenceStep is the drain's fence of this node's server, journaled in
// plan (the fence saves its prior state there before it is issued). The
// two connections it takes, the fence's and its control's, are readied
// while the preconditions run (plan.Warm, plan.Release).
func (n *Node) fenceStep(plan *drain.Plan, frozen *cutover.Frozen) *cutover.Fence {
	fence := &cutover.Fence{Local: n.local, Timeout: n.cfg.MySQL.FenceTimeout,
		Kill: n.cfg.MySQL.FenceKill, Grace: n.cfg.MySQL.FenceGrace, Frozen: frozen}
	plan.Journal = journalFence(fence)
	plan.Warm = append(plan.Warm, fence.Prepare)
	plan.Release = append(plan.Release, fence.Release)
	return fence
}

var (
	_ drain.Step = (*cutover.Fence)(nil)
	_ drain.Step = (*cutover.CatchUp)(nil)
)

// Drain runs a drain with the node's plan (see DrainPlan).
func (n *Node) Drain(ctx context.Context, opt drain.Options, out io.Writer) (drain.Result, error) {
	return n.DrainKeeping(ctx, opt, false, out)
}

// DrainKeeping is Drain; with keepSteps a failed step does not undo the
// steps before it (`drain --keep-fenced`).
//
// A drain among several nodes then finishes the move after the flip, with
// its own budget of drain.timeout (see move.go): a result Drained with an
// error wrapping drain.ErrUnfinished means the flip happened and the rest
// did not all complete.
func (n *Node) DrainKeeping(ctx context.Context, opt drain.Options, keepSteps bool, out io.Writer) (drain.Result, error) {
	plan, m, err := n.drainPlan(opt)
	if err != nil {
		return drain.Result{Outcome: drain.Refused}, err
	}
	plan.KeepSteps = keepSteps
	release, err := n.waitForJobs(ctx, opt, out)
	if err != nil {
		return drain.Result{Outcome: drain.Refused}, err
	}
	res, err := drain.Run(ctx, n.store, plan, opt, out)
	release()
	n.releaseAnswer(plan, res)
	if err != nil || m == nil || res.Outcome != drain.Drained || opt.Force {
		return res, err
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Drain.Timeout)
	defer cancel()
	return res, m.finish(fctx, out)
}

// Undrain marks the node up. On a Galera node it is refused until the
// node is Synced (unless opt.Force, recorded). With mysql.dsn set it first makes this
// node's server an eligible standby (cutover.PrepareStandby: a writable
// server whose peer holds the VIP is fenced; at bootstrap the writable
// primary stays writable), writing what it found to out.
func (n *Node) Undrain(ctx context.Context, opt drain.Options, out io.Writer) (state.State, bool, error) {
	prepare := func(ctx context.Context, out io.Writer) error {
		if n.cfg.Galera.DSN.IsSet() && !opt.Force {
			if err := n.galeraReadyToUndrain(ctx); err != nil {
				return err
			}
		}
		if err := n.clearAnswer(out); err != nil {
			return err
		}
		if n.local != nil {
			if err := n.prepareStandby(ctx, out); err != nil {
				return fmt.Errorf("could not make this server a read-only standby: %v", err)
			}
		}
		return nil
	}
	return drain.Undrain(ctx, n.store, n.recovery(), prepare, opt, out)
}

func (n *Node) prepareStandby(ctx context.Context, out io.Writer) error {
	held := false
	if v := n.vipView(); v.Known {
		if v.Err != nil {
			return fmt.Errorf("whether this node holds the VIP is unknown: %v", v.Err)
		}
		held = v.Held
	}
	peerStatus := n.peerStatus()
	if peerStatus == nil {
		peerStatus = func(context.Context) (health.Report, error) { return health.Report{}, peer.ErrNotConfigured }
	}
	var peerDB cutover.DB
	if n.peerDB != nil {
		peerDB = n.peerDB
	}
	var what string
	var fenced bool
	var err error
	if n.multi() {
		what, fenced, err = cutover.PrepareStandbyAmong(ctx, n.local, n.guardPeers(), held, n.cfg.MySQL.FenceTimeout)
	} else {
		what, fenced, err = cutover.PrepareStandby(ctx, n.local, peerDB, held, peerStatus, n.cfg.MySQL.FenceTimeout)
	}
	if err != nil {
		return err
	}
	if fenced {
		n.roles().LostPrimary("fenced at undrain: " + what)
	}
	fmt.Fprintln(out, what)
	return nil
}

var _ server.Operator = (*Node)(nil)

// ErrNoDatabase is returned by the database commands when mysql.dsn is
// not set.
var ErrNoDatabase = errors.New("mysql.dsn is not set (this command needs this node's server)")

// Notifier applies keepalived events (and `hacheck promote`) to this
// node's server. Promotion reads the VIP again just before the server is
// made writable.
func (n *Node) Notifier() (*cutover.Notifier, error) {
	if n.local == nil {
		return nil, ErrNoDatabase
	}
	nt := &cutover.Notifier{Dir: n.cfg.StateDir, Local: n.local, FenceTimeout: n.cfg.MySQL.FenceTimeout, Log: n.log,
		Promote: cutover.PromoteOptions{Unplanned: n.cfg.Promote.Unplanned, CatchupTimeout: n.cfg.Drain.CatchupTimeout,
			FenceTimeout: n.cfg.MySQL.FenceTimeout, PeerTimeout: n.cfg.Peer.Timeout}}
	if n.peerDB != nil {
		nt.Peer = n.peerDB
	}
	if n.multi() {
		for _, p := range n.peers {
			if p.db != nil {
				nt.Peers = append(nt.Peers, p.db)
			}
		}
		nt.Promote.PeerTimeout = n.cfg.PeerTimeout()
	}
	if n.cfg.VIP.Configured() {
		nt.VIP = n.vipView
		nt.Promote.VIP = n.vipView
	}
	if fo, err := n.followOptions(); err == nil {
		nt.Promote.CatchUpFrom = &fo
	}
	nt.Roles = n.roles()
	return nt, nil
}

// NotifyBudget bounds one notify or promote: the lock wait for a previous
// one, then asking the old primary, fencing it if needed, the catch-up
// wait and the local changes.
func (n *Node) NotifyBudget() time.Duration {
	c := n.cfg
	work := c.PeerTimeout() + c.MySQL.FenceTimeout + c.Drain.CatchupTimeout + 4*c.MySQL.QueryTimeout + 2*time.Second
	return 2 * work
}

// ErrFollowConfig is returned by Follow when the configuration lacks what
// following needs.
var ErrFollowConfig = errors.New("follow needs mysql.dsn, peer.mysql_dsn (a tcp address) and replication.user (and replication.password) in the configuration")

// Follow makes this node's (read-only) server a GTID replica of the
// peer's (cutover.Follow). With retry > 0 it tries again every retry while
// the peer is not promoted yet, until ctx ends.
//
// With several peers it follows the one whose server is writable (none:
// retried as a peer not promoted yet; several: refused).
func (n *Node) Follow(ctx context.Context, retry time.Duration, out io.Writer) error {
	var opt cutover.FollowOptions
	var err error
	if !n.multi() {
		if opt, err = n.followOptions(); err != nil {
			return err
		}
	} else if n.local == nil || n.cfg.Replication.User == "" {
		return ErrFollowConfig
	}
	jw, err := cutover.BeginOp(n.cfg.StateDir, cutover.OpFollow, "check")
	if err != nil {
		return err
	}
	defer jw.Done()
	for {
		primary := n.peerDB
		var np *nodePeer
		err = nil // each try starts afresh: the last try's ErrPeerNotPrimary must not skip this one
		if n.multi() {
			if np, err = n.primaryPeer(ctx); err == nil {
				primary = np.db
				if opt, err = n.followOptionsFor(np.cfg.MySQLDSN); err != nil {
					return err
				}
				fmt.Fprintf(out, "following %s, the peer whose server is writable\n", np.name())
			}
		}
		if err == nil {
			opt.Step = jw.Step
			err = cutover.Follow(ctx, n.local, primary, opt, out)
		}
		if err == nil {
			if _, cerr := n.store.ClearStale("follows the new primary "+primary.String(), ""); cerr != nil {
				fmt.Fprintf(out, "warning: could not clear the stale ex-primary mark: %v\n", cerr)
			}
			if np != nil {
				n.releaseOwnHold(np.name(), out)
			}
			return nil
		}
		if retry <= 0 || !errors.Is(err, cutover.ErrPeerNotPrimary) || ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(out, "waiting for the peer to be promoted: %v\n", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		case <-time.After(retry):
		}
	}
}

// followOptions is where this node's server replicates from when it
// follows the peer: peer.mysql_dsn's address, replication.user/password.
func (n *Node) followOptions() (cutover.FollowOptions, error) {
	if n.local == nil || n.peerDB == nil || n.cfg.Replication.User == "" {
		return cutover.FollowOptions{}, ErrFollowConfig
	}
	host, port, err := n.cfg.Peer.MySQLDSN.HostPort()
	if err != nil {
		return cutover.FollowOptions{}, fmt.Errorf("%w: peer.mysql_dsn: %v", ErrFollowConfig, err)
	}
	return cutover.FollowOptions{Host: host, Port: port, User: n.cfg.Replication.User, Password: n.cfg.Replication.Password,
		Wait: n.cfg.Drain.CatchupTimeout, QueryTimeout: n.cfg.MySQL.QueryTimeout, PeerTimeout: n.cfg.Peer.Timeout}, nil
}

// Server is `hacheck serve` for this node. It fails when the admin API is
// enabled with an unusable token file.
func (n *Node) Server() (*server.Server, error) {
	c := n.cfg
	file := c.File
	if file != "" {
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
	}
	opt := server.Options{
		Node:         c.Node,
		Store:        n.store,
		Listen:       c.Listen,
		StaleAfter:   c.StaleAfter,
		Checks:       n.checks,
		Admin:        server.Admin{Enabled: c.Admin.Enabled, TokenFile: c.Admin.TokenFile, Socket: c.Admin.Socket},
		Ops:          n,
		DrainTimeout: c.Drain.Timeout,
		ConfigFile:   file,
		DrainAfter:   2*c.Drain.Timeout + c.Galera.TransitionPeriod,
		AgentListen:  c.Agent.Listen,
	}
	if c.VIP.Configured() {
		opt.VIP = n.VIPStatus
	}
	if n.local != nil {
		opt.MySQL = n.MySQLStatus
		opt.Role = n.Role
		rec := n.Reconciler()
		opt.Reconcile = rec.Step
		opt.ReconcileStats = rec.Stats
		if c.VIP.Configured() {
			opt.ReconcileWake = n.vipChanges
		}
	}
	opt.Drain = n.DrainStatus
	opt.Keepalived = n.KeepalivedStatus
	return server.New(opt, n.log)
}

// Log is the node's logger, built in main from the configuration.
func (n *Node) Log() *slog.Logger { return n.log }
