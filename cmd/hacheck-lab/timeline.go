package main

import (
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/state"
)

// event is one moment of a cutover's timeline. A milestone (one of the
// milestones below) is aggregated over runs by the benchmark's phase table;
// other events are only printed.
type event struct {
	at        time.Time
	what      string
	milestone string
}

// The milestones of a cutover, in the order they normally happen. Every
// one is read on the one clock the lab's namespaces share: the drain's own
// record (last_drain.json), the notify records, netlink address events in
// each node's namespace, ARP packets at the client, the writer's ledger.
const (
	msDrainStarted = "drain started (its process, or serve for the front)"
	msPeerReady    = "peer-ready passed"
	msFence        = "fence: old primary read-only"
	msCatchUp      = "catch-up: new primary applied the frozen position"
	msAnswer       = "answer lease begun"
	msFlip         = "flip: track file written"
	msFault        = "keepalived on old: FAULT (notify started)"
	msVIPGone      = "VIP gone from old"
	msVIPOn        = "VIP on new"
	msGARP         = "gratuitous ARP from new seen by the client"
	msMaster       = "keepalived on new: MASTER (notify started)"
	msPromoted     = "new promoted (notify's promotion applied, or the baseline's SQL done)"
	msWritable     = "new read_only OFF (seen by polling)"
	msFirstWrite   = "first write acknowledged on new"
)

var milestones = []string{msDrainStarted, msPeerReady, msFence, msCatchUp, msAnswer, msFlip, msFault,
	msVIPGone, msVIPOn, msGARP, msMaster, msPromoted, msWritable, msFirstWrite}

// observers watch a lab's cutovers: the VIP on every node, and the ARP
// packets about the VIP that reach the client.
type observers struct {
	mon *lab.VIPMonitor
	arp *lab.ARPWatch
	mac map[*lab.Node]net.HardwareAddr
}

func newObservers(l *lab.Lab) (*observers, error) {
	mon, err := l.MonitorVIP()
	if err != nil {
		return nil, err
	}
	o := &observers{mon: mon, mac: map[*lab.Node]net.HardwareAddr{}}
	if o.arp, err = l.WatchARP(l.Client); err != nil {
		o.Close()
		return nil, err
	}
	for _, n := range l.Pair() {
		if o.mac[n], err = l.MAC(n); err != nil {
			o.Close()
			return nil, err
		}
	}
	return o, nil
}

func (o *observers) Close() {
	if o.arp != nil {
		o.arp.Close()
	}
	o.mon.Close()
}

// addNetwork adds what the network saw of the move from -> to since start:
// the VIP leaving from, arriving on to, and to's first ARP at the client.
func (o *observers) addNetwork(r *cutoverResult) {
	for _, e := range o.mon.Events() {
		if e.Node == r.from && !e.Added && e.At.After(r.start) {
			r.addMilestone(e.At, msVIPGone, "VIP gone from "+r.from.Name)
			break
		}
	}
	if added := o.mon.AddedSince(r.to, r.start); len(added) > 0 {
		r.addMilestone(added[0], msVIPOn, "VIP on "+r.to.Name)
	}
	if e, ok := o.arp.FirstFrom(o.mac[r.to], r.start); ok {
		what := "gratuitous ARP"
		if e.Op == 2 {
			what = "ARP reply"
		}
		r.addMilestone(e.At, msGARP, fmt.Sprintf("%s from %s (%s) seen by the client", what, r.to.Name, e.Sender))
	}
}

// addDrainRecord adds the drain's phases from its own record on from:
// the record has when the drain process started and how long each phase
// took, one after another.
func addDrainRecord(r *cutoverResult) error {
	rec, ok, err := drain.LoadRecord(state.Store{Dir: r.from.StateDir})
	if err != nil || !ok {
		return fmt.Errorf("read the drain record of %s: found %v, %v", r.from.Name, ok, err)
	}
	if rec.At.Before(r.start.Add(-time.Second)) {
		return fmt.Errorf("the drain record of %s is from %s, before this drain", r.from.Name, rec.At)
	}
	at := rec.At
	// A drain the front handed to serve changed the state from the admin
	// socket.
	where := "drain process started on " + r.from.Name
	if st, err := (state.Store{Dir: r.from.StateDir}).Load(); err == nil && strings.HasPrefix(st.From, "unix:") {
		where = "drain started in serve on " + r.from.Name + " (the front handed it over)"
	}
	r.addMilestone(at, msDrainStarted, where)
	names := map[string]struct{ ms, what string }{
		"preconditions": {msPeerReady, "peer-ready passed (and the other preconditions)"},
		"fence":         {msFence, "fence: " + r.from.Name + " read-only, frozen GTID position read"},
		"catch-up":      {msCatchUp, "catch-up: " + r.to.Name + " applied " + r.from.Name + "'s frozen position"},
		"answer":        {msAnswer, "answer lease begun on " + r.from.Name},
		"flip":          {msFlip, "flip: " + r.from.Name + " drained (track file written)"},
	}
	for _, p := range rec.Phases {
		at = at.Add(time.Duration(p.Seconds * float64(time.Second)))
		if n, ok := names[p.Name]; ok {
			r.addMilestone(at, n.ms, n.what)
		}
	}
	return nil
}

// addNotify adds n's last notify decision if it is for state (FAULT on
// the old primary, MASTER on the new), started after the move began.
func addNotify(r *cutoverResult, n *lab.Node, want, ms, applied string) {
	rec, ok, err := cutover.LoadRecord(n.StateDir)
	if err != nil || !ok || rec.Event != want || rec.Started.Before(r.start) {
		return
	}
	r.addMilestone(rec.Started, ms, fmt.Sprintf("keepalived on %s: %s (notify started)", n.Name, want))
	if applied != "" && rec.Action == cutover.ActionPromoted {
		r.addMilestone(rec.At, applied, fmt.Sprintf("%s promoted (notify applied: %s)", n.Name, rec.Action))
	}
}

func (r *cutoverResult) add(at time.Time, what string) {
	r.timeline = append(r.timeline, event{at: at, what: what})
}

func (r *cutoverResult) addMilestone(at time.Time, ms, what string) {
	r.timeline = append(r.timeline, event{at: at, what: what, milestone: ms})
}

// offset is when milestone ms happened, from the start of the move.
func (r cutoverResult) offset(ms string) (time.Duration, bool) {
	for _, e := range r.timeline {
		if e.milestone == ms {
			return e.at.Sub(r.start), true
		}
	}
	return 0, false
}

func (r *cutoverResult) sortTimeline() {
	sort.SliceStable(r.timeline, func(i, j int) bool { return r.timeline[i].at.Before(r.timeline[j].at) })
}

func printTimeline(w io.Writer, r cutoverResult) {
	for _, e := range r.timeline {
		fmt.Fprintf(w, "  %+8.1f ms  %s\n", float64(e.at.Sub(r.start).Microseconds())/1000, e.what)
	}
}

// printPhaseTable prints, per milestone, the p50 and p95 of when it
// happened (from the start of the move) over runs, in the order of the
// p50s: where the time goes.
func printPhaseTable(w io.Writer, label string, runs []cutoverResult) {
	fmt.Fprintf(w, "\nPhases, %s (%d cutovers; ms from the start of the move):\n\n", label, len(runs))
	fmt.Fprintln(w, "| milestone | runs | p50 | p95 | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	type row struct {
		ms string
		ds []time.Duration
	}
	var rows []row
	for _, ms := range milestones {
		var ds []time.Duration
		for _, r := range runs {
			if d, ok := r.offset(ms); ok {
				ds = append(ds, d)
			}
		}
		if len(ds) > 0 {
			rows = append(rows, row{ms, ds})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return median(rows[i].ds) < median(rows[j].ds) })
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s |\n", r.ms, len(r.ds), msecs(median(r.ds)), msecs(percentile(r.ds, 95)), msecs(maxOf(r.ds)))
	}
}
