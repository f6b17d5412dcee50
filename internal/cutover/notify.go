package cutover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// Files in the state directory.
const (
	NotifyRecordName = "notify.json" // the last applied database decision
	notifyLockName   = "notify.lock" // serializes notify and promote
)

// Event is one keepalived notify call: notify SCRIPT gets INSTANCE|GROUP,
// the name, MASTER|BACKUP|FAULT|STOP and the priority.
type Event struct {
	Kind     string
	Name     string
	State    string
	Priority int
	// Started is when this invocation started, by the wall clock: shown,
	// never compared (the wall clock can step backwards).
	Started time.Time
	// Stamp is when this invocation started, for ordering: keepalived runs
	// notify scripts asynchronously, so a later event may take the lock
	// first. The zero Stamp (unknown) is never judged stale.
	Stamp Stamp
}

// Stamp orders notify invocations on one node: the kernel's boot id and
// CLOCK_BOOTTIME, read when the process started. Two stamps compare only
// when both were read during the same boot; across a reboot (or when one is
// unknown) neither is older.
type Stamp struct {
	BootID   string        `json:"boot_id,omitempty"`
	Boottime time.Duration `json:"boottime_ns,omitempty"`
}

// Comparable reports whether s and o were read during the same boot.
func (s Stamp) Comparable(o Stamp) bool { return s.BootID != "" && s.BootID == o.BootID }

// OlderThan reports whether s is known to be older than o.
func (s Stamp) OlderThan(o Stamp) bool { return s.Comparable(o) && s.Boottime < o.Boottime }

// ParseEvent reads the four notify arguments.
func ParseEvent(args []string, started time.Time) (Event, error) {
	if len(args) != 4 {
		return Event{}, fmt.Errorf("want 4 arguments INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY, got %d (%q)", len(args), strings.Join(args, " "))
	}
	ev := Event{Kind: strings.ToUpper(args[0]), Name: args[1], State: strings.ToUpper(args[2]), Started: started}
	if ev.Kind != "INSTANCE" && ev.Kind != "GROUP" {
		return Event{}, fmt.Errorf("first argument %q is not INSTANCE or GROUP", args[0])
	}
	switch ev.State {
	case "MASTER", "BACKUP", "FAULT", "STOP":
	default:
		return Event{}, fmt.Errorf("state %q is not MASTER, BACKUP, FAULT or STOP", args[2])
	}
	p, err := strconv.Atoi(args[3])
	if err != nil || p < 0 || p > 255 {
		return Event{}, fmt.Errorf("priority %q is not a number from 0 to 255", args[3])
	}
	ev.Priority = p
	return ev, nil
}

// Record is notify.json: health.MySQLStatus plus what ordering needs.
type Record struct {
	health.MySQLStatus
	Instance string `json:"instance,omitempty"`
	// Started is when the applied event's invocation started (wall clock,
	// for people).
	Started time.Time `json:"started"`
	// Stamp is the newest stamp of every applied event (see decideNotify).
	Stamp Stamp `json:"stamp"`
	// Plan is what the applied decision set out to do: PlanPromote,
	// PlanFence, or empty (a refusal that did nothing).
	Plan string `json:"plan,omitempty"`
	// FencePending is set when the applied decision was a fence that did
	// not land (every attempt failed and the server was not seen
	// read-only). The split-brain guard then fails and fences the server
	// while it is writable on a node without the VIP, until it is
	// read-only or a newer decision replaces this record.
	FencePending bool `json:"fence_pending,omitempty"`
}

// Record.Plan values.
const (
	PlanPromote = "promote"
	PlanFence   = "fence"
)

// LoadRecord reads notify.json; ok is false when there is none.
func LoadRecord(dir string) (r Record, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, NotifyRecordName))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, false, fmt.Errorf("%s: %w", NotifyRecordName, err)
	}
	return r, true, nil
}

func saveRecord(dir string, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(filepath.Join(dir, NotifyRecordName), append(b, '\n'), 0o644)
}

// StatusLoader is health.MySQLStatusLoader: the recorded decision.
func StatusLoader(cfg *config.Config) *health.MySQLStatus {
	r, ok, err := LoadRecord(cfg.StateDir)
	if err != nil {
		return &health.MySQLStatus{Action: ActionFailed, Detail: "read " + NotifyRecordName + ": " + err.Error()}
	}
	if !ok {
		return nil
	}
	return &r.MySQLStatus
}

// lockNotify takes the notify lock (an flock on notify.lock, released by
// the kernel if the holder dies), waiting until ctx ends.
func lockNotify(ctx context.Context, dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	release, err = state.FileLock(ctx, filepath.Join(dir, notifyLockName))
	if ctx.Err() != nil && err != nil {
		return nil, fmt.Errorf("another notify or promote still holds %s: %w", notifyLockName, err)
	}
	return release, err
}

// VIPView is what notify knows about the VIP: Known is false when no VIP
// is configured (the event's state is then the authority).
type VIPView struct {
	Known bool
	Held  bool
	Err   error
}

// notifyPlan is what decideNotify decided.
type notifyPlan int

const (
	planPromote notifyPlan = iota
	planFence
	planIgnore
)

// decideNotify decides what an event does, from the event, the last
// applied record and the VIP as it is now. The rule: a node without the
// VIP is never writable, so staleness may suppress a promotion or a no-op,
// never a fence.
//
// An event is stale when its stamp is older than the last applied one (same
// boot, CLOCK_BOOTTIME; see Stamp). "Newer promotion" means the last
// applied record is stale-newer than the event and was a promotion
// (Plan promote: a MASTER on a node that held the VIP, or promote by hand).
//
//		VIP now        | MASTER             | BACKUP, FAULT, STOP
//		---------------+--------------------+----------------------------------
//		not held       | fence              | fence
//		unreadable     | fence              | fence
//		held           | promote; ignore if | fence; ignore if a newer
//		               | stale              | promotion was applied
//		not configured | promote; ignore if | fence
//		               | stale              |
//
//	  - Not held or unreadable: fence, whatever the event says and however
//	    stale it is. A MASTER that finds the VIP gone was followed by a
//	    newer transition; a stale BACKUP after a newer MASTER that finds the
//	    VIP gone is still right: the newer MASTER is no longer the truth.
//	  - Held, MASTER: promote; a stale MASTER is ignored (a newer event was
//	    applied after it; if the VIP came back since, the newer MASTER that
//	    keepalived notifies after adding it promotes).
//	  - Held, BACKUP/FAULT/STOP: keepalived removes the VIP before it
//	    notifies these, so the VIP was added again by a newer MASTER. If that
//	    MASTER's promotion is already applied, this event is stale: ignored,
//	    so the primary that holds the VIP keeps taking writes. Otherwise the
//	    newer MASTER has not been applied yet: fence now (fail closed); that
//	    MASTER, which keepalived always notifies, promotes again.
//	  - No VIP configured: the event is the only authority. MASTER promotes
//	    unless stale; BACKUP/FAULT/STOP always fence (without a VIP to look
//	    at, a late fence is the safe mistake).
func decideNotify(ev Event, last Record, haveLast bool, v VIPView) (notifyPlan, string) {
	stale := haveLast && ev.Stamp.OlderThan(last.Stamp)
	staleWhy := func() string {
		return fmt.Sprintf("%s started %s before the last applied %s event (seq %d)",
			ev.State, (last.Stamp.Boottime - ev.Stamp.Boottime).Round(time.Microsecond), last.Event, last.Seq)
	}
	master := ev.State == "MASTER"
	switch {
	case v.Known && v.Err != nil:
		return planFence, fmt.Sprintf("%s, and whether this node holds the VIP is unknown (%v): a node that may not hold the VIP never takes writes", ev.State, v.Err)
	case v.Known && !v.Held:
		if master {
			return planFence, "MASTER, but this node does not hold the VIP (a newer transition followed): a node without the VIP never takes writes"
		}
		if stale {
			return planFence, fmt.Sprintf("%s (stale: %s), and this node does not hold the VIP: fencing all the same, a node without the VIP never takes writes", ev.State, staleWhy())
		}
		return planFence, ev.State + " and this node does not hold the VIP"
	case master && stale:
		return planIgnore, fmt.Sprintf("stale MASTER: %s; not promoting", staleWhy())
	case master && !v.Known:
		return planPromote, "MASTER (no VIP configured: the event is the authority)"
	case master:
		return planPromote, "MASTER and this node holds the VIP"
	case !v.Known:
		return planFence, ev.State + " (no VIP configured: the event is the authority)"
	case stale && last.Plan == PlanPromote:
		return planIgnore, fmt.Sprintf("stale %s: %s, a promotion, and this node holds the VIP; not fencing the primary", ev.State, staleWhy())
	}
	return planFence, fmt.Sprintf("%s while this node holds the VIP, and no newer promotion was applied: fencing (the MASTER that keepalived notifies after adding the VIP again promotes)", ev.State)
}

// minFenceBudget is the least time worth starting a fence in: the server
// bounds SET GLOBAL read_only's wait for running writes in whole seconds,
// at least 1 s, and hamysql sets that to at most 3/4 of what is left; with
// less than this, the client could give up while the statement may still
// land on the server. It matches config's lower bound of
// mysql.fence_timeout.
const minFenceBudget = 1500 * time.Millisecond

// Fence retries in notify.
const (
	defaultFenceAttempts = 6
	defaultFenceBackoff  = 250 * time.Millisecond
	maxFenceBackoff      = 2 * time.Second
)

// Notifier applies keepalived events to this node's server.
type Notifier struct {
	Dir          string // state_dir
	Local        DB
	Peer         DB // nil when peer.mysql_dsn is not set
	VIP          func() VIPView
	FenceTimeout time.Duration
	Promote      PromoteOptions
	Log          *slog.Logger
	// VIPSettle is how long an event whose state disagrees with the VIP
	// waits for keepalived to finish adding or removing it; default 1s.
	VIPSettle time.Duration
	// FenceAttempts bounds how many times a failed fence is tried
	// (default 6); the first retry waits FenceRetryBackoff (default
	// 250ms), each next one twice as long, at most 2s. Retries stop early
	// when the context cannot hold another attempt (minFenceBudget).
	FenceAttempts     int
	FenceRetryBackoff time.Duration
}

// NewNotifier wires a Notifier from the configuration.
func NewNotifier(cfg *config.Config, pair *Pair, log *slog.Logger) *Notifier {
	n := &Notifier{Dir: cfg.StateDir, Local: pair.Local, Peer: pair.peerDB(), FenceTimeout: cfg.MySQL.FenceTimeout, Log: log,
		Promote: PromoteOptions{Unplanned: cfg.Promote.Unplanned, CatchupTimeout: cfg.Drain.CatchupTimeout,
			FenceTimeout: cfg.MySQL.FenceTimeout, PeerTimeout: cfg.Peer.Timeout}}
	if cfg.VIP.Configured() {
		ifname, addr := cfg.VIP.Interface, cfg.VIP.Address.Addr().String()
		n.VIP = func() VIPView {
			held, err := vipHeld(ifname, addr)
			return VIPView{Known: true, Held: held, Err: err}
		}
	}
	return n
}

func (n *Notifier) vip(want bool) VIPView {
	if n.VIP == nil {
		return VIPView{}
	}
	settle := n.VIPSettle
	if settle <= 0 {
		settle = time.Second
	}
	deadline := time.Now().Add(settle)
	for {
		v := n.VIP()
		if v.Err == nil && v.Held == want || time.Now().After(deadline) {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Handle applies one event under the notify lock and records the decision.
// The returned error is non-nil when the event was refused or failed.
func (n *Notifier) Handle(ctx context.Context, ev Event) (Record, error) {
	release, err := lockNotify(ctx, n.Dir)
	if err != nil {
		return Record{}, err
	}
	defer release()
	last, haveLast, err := LoadRecord(n.Dir)
	if err != nil {
		n.Log.Warn("notify record unreadable; treating this event as the newest", "err", err)
		haveLast = false
	}
	plan, why := decideNotify(ev, last, haveLast, n.vip(ev.State == "MASTER"))
	if plan == planIgnore {
		n.Log.Warn("notify: ignored", "instance", ev.Name, "event", ev.State, "why", why)
		return Record{MySQLStatus: health.MySQLStatus{Seq: last.Seq, Event: ev.State, Action: ActionIgnored, Detail: why, At: time.Now().UTC()}}, nil
	}
	// The transition is the truth from here on, whatever the database says.
	st := state.Store{Dir: n.Dir}
	if err := st.SaveTransition(state.Transition{Kind: ev.Kind, Instance: ev.Name, State: ev.State, Priority: ev.Priority, At: time.Now().UTC()}); err != nil {
		n.Log.Warn("notify: could not record the transition", "err", err)
	}
	var out Outcome
	applied := applied{event: ev.State, instance: ev.Name, started: ev.Started, stamp: ev.Stamp}
	switch plan {
	case planPromote:
		applied.plan = PlanPromote
		out, err = Promote(ctx, n.Local, n.Peer, n.Promote)
	case planFence:
		applied.plan = PlanFence
		out, err = n.fence(ctx)
	}
	out.Detail = why + ": " + out.Detail
	return n.record(ctx, last, applied, out, err)
}

// applied is what record needs to know of the event it records.
type applied struct {
	event, instance string
	started         time.Time
	stamp           Stamp
	plan            string // PlanPromote, PlanFence, or empty
}

// fence makes the server read-only, trying again after a failure (SET
// GLOBAL read_only gives up when running transactions outlast its lock
// wait) until FenceAttempts are spent or ctx cannot hold another attempt.
func (n *Notifier) fence(ctx context.Context) (Outcome, error) {
	attempts := n.FenceAttempts
	if attempts <= 0 {
		attempts = defaultFenceAttempts
	}
	backoff := n.FenceRetryBackoff
	if backoff <= 0 {
		backoff = defaultFenceBackoff
	}
	start := time.Now()
	for i := 1; ; i++ {
		out, err := Demote(ctx, n.Local, n.FenceTimeout)
		if err == nil {
			if i > 1 {
				out.Detail += fmt.Sprintf(" (attempt %d, %s after the first)", i, time.Since(start).Round(time.Millisecond))
			}
			return out, nil
		}
		var stop string
		switch {
		case i >= attempts:
			stop = fmt.Sprintf("%d attempts", i)
		case ctx.Err() != nil:
			stop = fmt.Sprintf("%d attempts, the notify budget is spent", i)
		default:
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < backoff+minFenceBudget {
				stop = fmt.Sprintf("%d attempts, the notify budget cannot hold another", i)
			}
		}
		if stop != "" {
			d := fmt.Sprintf("fence failed (%s over %s): %v; the server may still be writable: the split-brain guard (`hacheck check`) fails and fences it while this node does not hold the VIP",
				stop, time.Since(start).Round(time.Millisecond), err)
			return Outcome{Action: ActionFailed, Detail: d}, err
		}
		n.Log.Warn("notify: fence failed; trying again", "attempt", i, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxFenceBackoff)
	}
}

// PromoteNow is `hacheck promote`: the MASTER path, run by hand, under the
// notify lock. It refuses on a node that does not hold a configured VIP.
func (n *Notifier) PromoteNow(ctx context.Context, force bool, started time.Time) (Record, error) {
	stamp, serr := NowStamp()
	if serr != nil {
		n.Log.Warn("promote: no ordering stamp", "err", serr)
	}
	release, err := lockNotify(ctx, n.Dir)
	if err != nil {
		return Record{}, err
	}
	defer release()
	last, _, err := LoadRecord(n.Dir)
	if err != nil {
		n.Log.Warn("notify record unreadable", "err", err)
	}
	if v := n.vip(true); v.Known && (v.Err != nil || !v.Held) {
		why := "this node does not hold the VIP: a node without the VIP never takes writes"
		if v.Err != nil {
			why = fmt.Sprintf("whether this node holds the VIP is unknown (%v)", v.Err)
		}
		out := Outcome{Action: ActionRefused, Detail: "promote: " + why}
		return n.record(ctx, last, applied{event: "PROMOTE", started: started, stamp: stamp}, out, nil)
	}
	opt := n.Promote
	opt.Force = force
	out, err := Promote(ctx, n.Local, n.Peer, opt)
	out.Detail = "promote by hand: " + out.Detail
	return n.record(ctx, last, applied{event: "PROMOTE", started: started, stamp: stamp, plan: PlanPromote}, out, err)
}

// SettlePendingFence marks the pending fence of record seq as done (by the
// split-brain guard, or seen read-only): best effort, only if the notify
// lock is free within wait and the record is still seq.
func SettlePendingFence(dir string, seq uint64, how string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	release, err := lockNotify(ctx, dir)
	if err != nil {
		return err
	}
	defer release()
	r, ok, err := LoadRecord(dir)
	if err != nil || !ok || r.Seq != seq || !r.FencePending {
		return err
	}
	ro := true
	r.FencePending, r.Action, r.ReadOnly, r.At = false, ActionFenced, &ro, time.Now().UTC()
	r.Detail = how + " (notify: " + r.Detail + ")"
	return saveRecord(dir, r)
}

func (n *Notifier) record(ctx context.Context, last Record, a applied, out Outcome, err error) (Record, error) {
	event := a.event
	r := Record{MySQLStatus: health.MySQLStatus{Seq: last.Seq + 1, Event: event, Action: out.Action, Detail: out.Detail, At: time.Now().UTC()},
		Instance: a.instance, Started: a.started, Stamp: a.stamp, Plan: a.plan}
	// The record keeps the newest stamp applied so far: an event older
	// than any applied one stays stale, even after a stale fence.
	if a.stamp.BootID == "" || a.stamp.OlderThan(last.Stamp) {
		r.Stamp = last.Stamp
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	if ro, rerr := n.Local.ReadOnly(rctx); rerr == nil {
		v := ro.Fenced()
		r.ReadOnly = &v
	}
	cancel()
	// A failed fence may still have landed (a statement the client gave up
	// on): pending only while the server is not seen read-only.
	r.FencePending = a.plan == PlanFence && out.Action != ActionFenced && (r.ReadOnly == nil || !*r.ReadOnly)
	if serr := saveRecord(n.Dir, r); serr != nil {
		n.Log.Error("notify: could not record the decision", "err", serr)
		if err == nil {
			err = fmt.Errorf("record decision: %w", serr)
		}
	}
	level := slog.LevelInfo
	switch {
	case err != nil || out.Action == ActionFailed:
		level = slog.LevelError
	case out.Action == ActionRefused:
		level = slog.LevelWarn
	}
	n.Log.Log(ctx, level, "mysql "+out.Action, "event", event, "seq", r.Seq, "detail", out.Detail)
	if err == nil && out.Action == ActionRefused {
		err = errors.New(out.Detail)
	}
	return r, err
}
