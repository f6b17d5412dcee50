package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/peer"
)

// A drain among several nodes (peers: with two or more entries) moves the
// primary to one chosen successor:
//
//  1. precondition successor: every peer is read (its /status and its
//     server); drain.Choose picks the successor (--to, or the most up to
//     date) and the drain prints "successor: NAME (WHY)";
//  2. step hold: every other peer is asked to hold itself out of the
//     election (POST /v1/hold, a lease of 2 x drain.timeout + 10 s) and
//     confirms it: its track file reads 1 and, where notify records
//     keepalived's transitions, keepalived reported FAULT. Any failure
//     releases the holds already granted and refuses the drain;
//  3. steps fence and catch-up, as for a pair, with the successor's server;
//  4. the flip. This node goes FAULT; every other node is FAULT (held), so
//     the successor is the only BACKUP left and keepalived can elect no
//     one else;
//  5. after the flip (its own budget, drain.timeout): wait until the
//     successor's server is writable, release the holds, then repoint every
//     other replica of this server to the successor by GTID (cutover.Follow
//     through that replica's mysql_dsn) and verify its threads run from the
//     successor's server_id.
//
// Why keepalived cannot elect another node: a VRRP instance in FAULT never
// becomes MASTER and sends no adverts. The flip happens only after every
// other node has confirmed its hold, so at the flip every node but the
// successor is FAULT (held, or this node once its track file reads 1), and
// the successor is the only BACKUP whose master-down timer can run out.
// No held node leaves FAULT before its hold is released, after the
// successor's server is writable. The lease covers the drain and the
// finish, so it cannot run out during the move; if the drain dies, the
// lease ends the holds by itself (a node is ineligible until then: fail
// closed, not stuck). Without nopreempt a released node of higher priority
// would take the VIP back: drain.Choose refuses such a successor.

// nodePeer is one configured peer, wired once.
type nodePeer struct {
	cfg    config.Peer
	client peer.Client
	db     *db.Server
}

func (p *nodePeer) name() string { return p.cfg.Name }

// multi reports whether this node has several peers: drains then move to
// one successor and hold the others.
func (n *Node) multi() bool { return len(n.peers) > 1 }

// holdTTL is the lease of the holds of one move: the drain (drain.timeout)
// and what follows the flip (drain.timeout), with a margin.
func (n *Node) holdTTL() time.Duration { return 2*n.cfg.Drain.Timeout + 10*time.Second }

// leaseFor is the lease of holds asked for within ctx: what is left of the
// drain (a --timeout may make it longer than drain.timeout), the finish
// and the margin; an error when a node would not grant that long.
func (n *Node) leaseFor(ctx context.Context) (time.Duration, error) {
	ttl := n.holdTTL()
	if dl, ok := ctx.Deadline(); ok {
		ttl = max(ttl, time.Until(dl)+n.cfg.Drain.Timeout+10*time.Second)
	}
	if ttl > peer.MaxHoldTTL {
		return 0, fmt.Errorf("the holds would have to last %s (the drain's deadline, then drain.timeout for the finish), more than a node grants (%s): use a shorter --timeout", ttl.Round(time.Second), peer.MaxHoldTTL)
	}
	return ttl.Round(time.Second), nil
}

// adminToken is this node's admin token, presented to the peers.
func (n *Node) adminToken() (string, error) {
	if n.cfg.Admin.TokenFile == "" {
		return "", errors.New("admin.token_file is not set: the other nodes cannot be asked to hold")
	}
	b, err := os.ReadFile(n.cfg.Admin.TokenFile)
	if err != nil {
		return "", fmt.Errorf("admin.token_file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// move is one drain among several nodes: what the precondition learned
// and what the steps and the finish share.
type move struct {
	n  *Node
	to string
	// set by the successor precondition
	choice  drain.Choice
	succ    *nodePeer
	others  []*nodePeer
	localID uint32
	// set by the hold step
	mu   sync.Mutex
	held []*nodePeer
	jw   *drain.JournalWriter
}

// successorPrecondition reads every peer and chooses the successor.
type successorPrecondition struct{ m *move }

var _ check.Precondition = successorPrecondition{}

func (successorPrecondition) Name() string { return "successor" }

func (p successorPrecondition) Run(ctx context.Context, out io.Writer) check.Result {
	m := p.m
	n := m.n
	q := n.cfg.MySQL.QueryTimeout
	qctx, cancel := context.WithTimeout(ctx, q)
	localID, err := n.local.ServerID(qctx)
	cancel()
	if err != nil {
		return check.Result{Detail: fmt.Sprintf("this server: %v", err)}
	}
	qctx, cancel = context.WithTimeout(ctx, q)
	localPos, err := n.local.GTIDPosition(qctx)
	cancel()
	if err != nil {
		return check.Result{Detail: fmt.Sprintf("this server: %v", err)}
	}
	cands := make([]drain.Candidate, len(n.peers))
	var wg sync.WaitGroup
	for i, np := range n.peers {
		wg.Go(func() { cands[i] = n.candidate(ctx, np, localID, localPos) })
	}
	wg.Wait()
	choice, err := drain.Choose(cands, m.to)
	if err != nil {
		return check.Result{Detail: err.Error()}
	}
	m.choice, m.localID = choice, localID
	m.others = nil
	for _, np := range n.peers {
		if np.name() == choice.Name {
			m.succ = np
		} else {
			m.others = append(m.others, np)
		}
	}
	fmt.Fprintln(out, choice.Line())
	// A caught-up replica: before anything is held or fenced, the
	// successor must apply this server's position as read above within
	// half of drain.catchup_timeout (writes go on meanwhile). A replica
	// that lags further (a delayed one) is refused here, with nothing
	// changed, instead of after the fence has blocked every write for the
	// whole catch-up.
	pre := &cutover.CatchUp{Peer: m.succ.db, Timeout: n.cfg.Drain.CatchupTimeout / 2, Frozen: &cutover.Frozen{Position: localPos}}
	if err := pre.Do(ctx, out); err != nil {
		return check.Result{Detail: fmt.Sprintf("%s is not a caught-up replica: it did not apply this server's position within half of drain.catchup_timeout (%s), before any fence: %v", choice.Name, pre.Timeout, err)}
	}
	return check.Result{OK: true, Detail: choice.Line() + "; it has applied this server's position " + localPos}
}

// candidate reads what drain.Choose needs of one peer.
func (n *Node) candidate(ctx context.Context, np *nodePeer, localID uint32, localPos string) drain.Candidate {
	c := drain.Candidate{Name: np.name(), Missing: -1}
	rep, err := np.client.Status(ctx)
	if err != nil {
		c.Unreachable = err.Error()
		return c
	}
	c.ReportedName, c.State, c.Healthy, c.Reason = rep.Node, rep.StateName(), rep.Healthy, rep.Reason
	if rep.State != nil && rep.State.Hold.ActiveAt(time.Now()) {
		c.Held = rep.State.Hold.String()
	}
	if k := rep.Keepalived; k != nil && k.Error == "" {
		c.KeepalivedKnown, c.Priority, c.Nopreempt = true, k.Priority, k.Nopreempt
	}
	if np.db == nil {
		c.Unreachable = "mysql_dsn is not set"
		return c
	}
	qctx, cancel := context.WithTimeout(ctx, np.cfg.Timeout)
	st, err := np.db.ReplicaStatus(qctx)
	cancel()
	if err != nil {
		c.Unreachable = err.Error()
		return c
	}
	ok, detail := db.EvaluateReplica(st, db.ReplicaPolicy{})
	switch {
	case !ok:
		c.ReplicaDetail = detail
	case st.SourceServerID != localID:
		c.ReplicaDetail = fmt.Sprintf("replicates from server_id %d (%s), not from this server (server_id %d)", st.SourceServerID, st.Source(), localID)
	default:
		c.Replica = true
	}
	if st != nil {
		c.Position = st.ExecutedGTIDs
		have, herr := db.ParseMariaDBGTIDList(st.ExecutedGTIDs)
		want, werr := db.ParseMariaDBGTIDList(localPos)
		if herr == nil && werr == nil {
			c.Missing = db.LagTransactions(have, want)
		}
	}
	return c
}

// holdStep asks every other peer to hold itself out of the election.
type holdStep struct{ m *move }

var _ drain.Step = (*holdStep)(nil)

func (s *holdStep) Name() string { return "hold" }

func (s *holdStep) Describe() string {
	names := make([]string, 0, len(s.m.n.peers))
	for _, np := range s.m.n.peers {
		names = append(names, np.name())
	}
	return fmt.Sprintf("hold every peer but the successor (of %s) out of keepalived's election for at most %s, each confirming it", strings.Join(names, ", "), s.m.n.holdTTL())
}

func (s *holdStep) request(ttl time.Duration) peer.HoldRequest {
	m := s.m
	return peer.HoldRequest{For: m.succ.name(), By: m.n.cfg.Node, TTL: ttl.String(), Reason: "move of the primary to " + m.succ.name()}
}

func (s *holdStep) Do(ctx context.Context, out io.Writer) error {
	m := s.m
	tok, err := m.n.adminToken()
	if err != nil {
		return err
	}
	ttl, err := m.n.leaseFor(ctx)
	if err != nil {
		return err
	}
	until := time.Now().Add(ttl)
	intents := make([]drain.HoldIntent, len(m.others))
	for i, o := range m.others {
		intents[i] = drain.HoldIntent{Node: o.name(), For: m.succ.name(), By: m.n.cfg.Node, Until: until}
	}
	if m.jw != nil {
		if err := m.jw.Holds(m.succ.name(), intents); err != nil {
			return err
		}
	}
	req := s.request(ttl)
	answers := make([]peer.HoldResponse, len(m.others))
	errs := make([]error, len(m.others))
	var wg sync.WaitGroup
	for i, o := range m.others {
		wg.Go(func() {
			c := o.client
			c.Token = tok
			hctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout+holdConfirm+time.Second)
			defer cancel()
			answers[i], errs[i] = c.Hold(hctx, req)
		})
	}
	wg.Wait()
	var failed []string
	for i, o := range m.others {
		if errs[i] != nil {
			failed = append(failed, fmt.Sprintf("hold %s: %v", o.name(), errs[i]))
			continue
		}
		m.mu.Lock()
		m.held = append(m.held, o)
		m.mu.Unlock()
		fmt.Fprintf(out, "  held %s until %s: %s\n", o.name(), until.UTC().Format(time.RFC3339), answers[i].Confirmed)
	}
	if len(failed) > 0 {
		s.release(out)
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func (s *holdStep) Undo(ctx context.Context, out io.Writer) error {
	s.release(out)
	return nil
}

// release asks every held peer to drop its hold; a failure is reported,
// and that hold ends by its lease.
func (s *holdStep) release(out io.Writer) {
	m := s.m
	m.mu.Lock()
	held := m.held
	m.held = nil
	m.mu.Unlock()
	tok, _ := m.n.adminToken()
	req := s.request(0) // a release names the move; its ttl is not read
	for _, o := range held {
		c := o.client
		c.Token = tok
		ctx, cancel := context.WithTimeout(context.Background(), o.cfg.Timeout)
		_, err := c.Release(ctx, req)
		cancel()
		if err != nil {
			fmt.Fprintf(out, "  could not release the hold on %s (it ends by its lease): %v\n", o.name(), err)
			continue
		}
		fmt.Fprintf(out, "  released the hold on %s\n", o.name())
	}
}

// successorCatchUp is the catch-up step on the chosen successor's server.
type successorCatchUp struct {
	m      *move
	frozen *cutover.Frozen
}

var _ drain.Step = (*successorCatchUp)(nil)

func (s *successorCatchUp) Name() string { return "catch-up" }

func (s *successorCatchUp) Describe() string {
	return fmt.Sprintf("wait up to %s for the successor's server to apply the frozen GTID position, then verify it", s.m.n.cfg.Drain.CatchupTimeout)
}

func (s *successorCatchUp) Do(ctx context.Context, out io.Writer) error {
	c := &cutover.CatchUp{Peer: s.m.succ.db, Timeout: s.m.n.cfg.Drain.CatchupTimeout, Frozen: s.frozen}
	return c.Do(ctx, out)
}

func (s *successorCatchUp) Undo(context.Context, io.Writer) error { return nil }

// movePlan is the plan of a drain among several nodes (see the top of
// this file); pre are the precondition scripts and the Galera check.
func (n *Node) movePlan(plan drain.Plan, opt drain.Options) (drain.Plan, *move) {
	m := &move{n: n, to: opt.To}
	plan.Preconditions = append(plan.Preconditions, successorPrecondition{m})
	frozen := &cutover.Frozen{}
	fence := n.fenceStep(&plan, frozen)
	m.jw = plan.Journal
	plan.Steps = append(plan.Steps, &holdStep{m}, fence, &successorCatchUp{m: m, frozen: frozen})
	return plan, m
}

// finish is what follows the flip of a move (step 5 at the top of this
// file), with its own budget. It reports every replica it repointed and
// returns an error wrapping drain.ErrUnfinished naming what is left.
func (m *move) finish(ctx context.Context, out io.Writer) error {
	n := m.n
	jw, jerr := cutover.BeginOp(n.cfg.StateDir, cutover.OpMove, "wait-successor")
	if jerr != nil {
		fmt.Fprintf(out, "warning: could not write the move journal: %v\n", jerr)
	}
	defer jw.Done()
	var problems []string
	start := time.Now()
	if err := m.waitSuccessor(ctx); err != nil {
		problems = append(problems, err.Error())
	} else {
		fmt.Fprintf(out, "successor %s: its server is writable (%s after the flip)\n", m.succ.name(), time.Since(start).Round(time.Millisecond))
	}
	jw.Step("release-holds")
	(&holdStep{m}).release(out)
	if len(problems) == 0 {
		problems = append(problems, m.repoint(ctx, jw, out)...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", drain.ErrUnfinished, strings.Join(problems, "; "))
	}
	return nil
}

// waitSuccessor waits until the successor's server is writable (promoted
// by its notify MASTER, or by its serve).
func (m *move) waitSuccessor(ctx context.Context) error {
	for {
		qctx, cancel := context.WithTimeout(ctx, m.succ.cfg.Timeout)
		ro, err := m.succ.db.ReadOnly(qctx)
		cancel()
		if err == nil && !ro.Fenced() {
			return nil
		}
		select {
		case <-ctx.Done():
			why := "read-only"
			if err != nil {
				why = err.Error()
			} else {
				why += " (" + ro.String() + ")"
			}
			return fmt.Errorf("the successor %s was not promoted in time (its server is %s): look at `hacheck status` there; once it is writable, run `hacheck follow` on each other replica", m.succ.name(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// repoint makes every other replica of this server follow the successor.
func (m *move) repoint(ctx context.Context, jw *cutover.OpWriter, out io.Writer) []string {
	n := m.n
	var problems []string
	opt, err := n.followOptionsFor(m.succ.cfg.MySQLDSN)
	if err != nil {
		for _, o := range m.others {
			problems = append(problems, fmt.Sprintf("%s not repointed (%v): run `hacheck follow` on %s", o.name(), err, o.name()))
		}
		return problems
	}
	qctx, cancel := context.WithTimeout(ctx, m.succ.cfg.Timeout)
	succID, err := m.succ.db.ServerID(qctx)
	cancel()
	if err != nil {
		return []string{fmt.Sprintf("read the successor's server_id: %v; run `hacheck follow` on each other replica", err)}
	}
	for _, o := range m.others {
		jw.Step("repoint " + o.name())
		qctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		st, err := o.db.ReplicaStatus(qctx)
		cancel()
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s not repointed (%v): run `hacheck follow` on %s", o.name(), err, o.name()))
			continue
		case st != nil && st.SourceServerID == succID && st.IOThreadRunning() && st.SQLThreadRunning():
			fmt.Fprintf(out, "repointed: %s already replicates from %s\n", o.name(), m.succ.name())
			continue
		case st == nil || st.SourceServerID != m.localID:
			src := "no replication source"
			if st != nil {
				src = fmt.Sprintf("replicates from server_id %d (%s)", st.SourceServerID, st.Source())
			}
			fmt.Fprintf(out, "not repointed: %s %s, not from this server: left as it is\n", o.name(), src)
			continue
		}
		if err := cutover.Follow(ctx, o.db, m.succ.db, opt, io.Discard); err != nil {
			problems = append(problems, fmt.Sprintf("%s not repointed: %v; run `hacheck follow` on %s", o.name(), err, o.name()))
			continue
		}
		fmt.Fprintf(out, "repointed: %s replicates from %s by GTID (IO and SQL running, source server_id %d, verified)\n", o.name(), m.succ.name(), succID)
	}
	return problems
}

// followOptionsFor is where a server replicates from when it follows the
// server at dsn: its address, replication.user and replication.password.
func (n *Node) followOptionsFor(dsn config.DSN) (cutover.FollowOptions, error) {
	if n.cfg.Replication.User == "" {
		return cutover.FollowOptions{}, ErrFollowConfig
	}
	host, port, err := dsn.HostPort()
	if err != nil {
		return cutover.FollowOptions{}, fmt.Errorf("%w: %v", ErrFollowConfig, err)
	}
	return cutover.FollowOptions{Host: host, Port: port, User: n.cfg.Replication.User, Password: n.cfg.Replication.Password,
		Wait: n.cfg.Drain.CatchupTimeout, QueryTimeout: n.cfg.MySQL.QueryTimeout, PeerTimeout: n.cfg.PeerTimeout()}, nil
}

// primaryPeer is the one peer whose server is writable: the primary a node
// among several follows. ErrPeerNotPrimary when none is (yet).
func (n *Node) primaryPeer(ctx context.Context) (*nodePeer, error) {
	var writable []*nodePeer
	var unknown []string
	for _, np := range n.peers {
		if np.db == nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, np.cfg.Timeout)
		ro, err := np.db.ReadOnly(qctx)
		cancel()
		switch {
		case err != nil:
			unknown = append(unknown, fmt.Sprintf("%s: %v", np.name(), err))
		case !ro.Fenced():
			writable = append(writable, np)
		}
	}
	switch len(writable) {
	case 1:
		return writable[0], nil
	case 0:
		if len(unknown) > 0 {
			return nil, fmt.Errorf("no peer's server is writable (%s): %w", strings.Join(unknown, "; "), cutover.ErrPeerNotPrimary)
		}
		return nil, fmt.Errorf("no peer's server is writable: %w", cutover.ErrPeerNotPrimary)
	}
	names := make([]string, len(writable))
	for i, w := range writable {
		names[i] = w.name()
	}
	return nil, fmt.Errorf("several peers' servers are writable (%s): not following any; resolve the split brain first", strings.Join(names, ", "))
}

// releaseHolds is the recovery of a move killed before its flip: ask each
// node of holds to release it.
func (n *Node) releaseHolds(ctx context.Context, holds []drain.HoldIntent, out io.Writer) error {
	tok, err := n.adminToken()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range holds {
		var np *nodePeer
		for _, p := range n.peers {
			if p.name() == h.Node {
				np = p
			}
		}
		if np == nil {
			errs = append(errs, fmt.Errorf("%s is no longer among the peers", h.Node))
			continue
		}
		c := np.client
		c.Token = tok
		if _, err := c.Release(ctx, peer.HoldRequest{For: h.For, By: h.By}); err != nil {
			errs = append(errs, fmt.Errorf("release %s: %w", h.Node, err))
			continue
		}
		fmt.Fprintf(out, "released the hold on %s\n", h.Node)
	}
	return errors.Join(errs...)
}

// guardPeers are the peers as the split-brain guard and undrain ask them,
// for a node with several peers; nil for a pair (which uses peer: as is).
func (n *Node) guardPeers() []cutover.GuardPeer {
	if !n.multi() {
		return nil
	}
	out := make([]cutover.GuardPeer, 0, len(n.peers))
	for _, p := range n.peers {
		gp := cutover.GuardPeer{Status: p.client.Status}
		if p.db != nil {
			gp.DB = p.db
		}
		out = append(out, gp)
	}
	return out
}
