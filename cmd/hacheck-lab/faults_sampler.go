package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/hacheck/hacheck/internal/lab"
)

// Sampling of the fault scenarios. Each server's @@read_only is read on
// its own address (never the VIP), from inside its own namespace so that
// a partition does not hide it, every samplePeriod, each query bounded by
// sampleTimeout. A checker evaluates the invariants every samplePeriod on
// the latest readings no older than sampleFresh: a reading that old or an
// unanswered query is "unknown" and proves nothing either way.
const (
	samplePeriod  = 20 * time.Millisecond
	sampleTimeout = 200 * time.Millisecond
	sampleFresh   = 150 * time.Millisecond
	// vipGrace is how long after a VIP change a writable server may still
	// lack the VIP (its notify is fencing it, or promoting the new holder).
	vipGrace = time.Second
)

// reading is one answer of a server to SELECT @@read_only.
type reading struct {
	start    time.Time // the query was sent
	at       time.Time // its answer came back
	known    bool
	writable bool
}

// episode is one stretch of time during which an invariant was violated.
type episode struct {
	what     string
	from, to time.Time
}

// sampler watches every server (both of a pair, all three of a three-node
// lab) and the VIP and records every violation of "never two writable" and
// "a writable server holds the VIP".
type sampler struct {
	l     *lab.Lab
	mon   *lab.VIPMonitor
	dbs   map[*lab.Node]*sql.DB
	start time.Time

	mu      sync.Mutex
	latest  map[*lab.Node]reading
	samples map[*lab.Node]int
	maxGap  map[*lab.Node]time.Duration // longest time between two answers
	lastOK  map[*lab.Node]time.Time
	wrSince map[*lab.Node]time.Time // writable since (zero: not writable at the last answer)
	wrTimes map[*lab.Node][]episode // when each server was seen writable
	// backAt is when a server answered again after more than vipGrace
	// without an answer (hung, frozen, cut off): it cannot be fenced while
	// it does not answer, so it gets the same grace as after a VIP change.
	backAt   map[*lab.Node]time.Time
	open     map[string]*episode
	episodes []episode
	checks   int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ownNet registers (once per lab and node) a driver network that dials
// from inside n's namespace.
func ownNet(l *lab.Lab, n *lab.Node) string {
	name := "lab-own-" + n.Name + "-" + l.ID
	if _, loaded := registerOnce.LoadOrStore(name, name); !loaded {
		dial := l.DialContext(n)
		mysql.RegisterDialContext(name, func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		})
	}
	return name
}

func startSampler(l *lab.Lab, mon *lab.VIPMonitor, start time.Time) (*sampler, error) {
	s := &sampler{
		l: l, mon: mon, start: start, dbs: map[*lab.Node]*sql.DB{},
		latest: map[*lab.Node]reading{}, samples: map[*lab.Node]int{}, maxGap: map[*lab.Node]time.Duration{},
		lastOK: map[*lab.Node]time.Time{}, wrSince: map[*lab.Node]time.Time{}, wrTimes: map[*lab.Node][]episode{}, backAt: map[*lab.Node]time.Time{},
		open: map[string]*episode{},
	}
	for _, n := range l.Keepalived() {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net = hacheckUser, hacheckPass, ownNet(l, n)
		c.Addr = fmt.Sprintf("%s:%d", n.Addr.Addr(), mysqlPort)
		c.Timeout, c.ReadTimeout, c.WriteTimeout = sampleTimeout, sampleTimeout, sampleTimeout
		db, err := sql.Open("mysql", c.FormatDSN())
		if err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("sampler: %w", err)
		}
		db.SetMaxOpenConns(2)
		s.dbs[n] = db
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, n := range l.Keepalived() {
		s.wg.Go(func() { s.poll(ctx, n) })
	}
	s.wg.Go(func() { s.checkLoop(ctx) })
	return s, nil
}

func (s *sampler) closeDBs() {
	for _, db := range s.dbs {
		db.Close()
	}
}

// poll reads n's read_only every samplePeriod (or as soon as the last
// query ended, when it took longer).
func (s *sampler) poll(ctx context.Context, n *lab.Node) {
	for ctx.Err() == nil {
		t0 := time.Now()
		qctx, cancel := context.WithTimeout(ctx, sampleTimeout)
		var ro bool
		err := s.dbs[n].QueryRowContext(qctx, "SELECT @@read_only").Scan(&ro)
		cancel()
		now := time.Now()
		s.mu.Lock()
		r := reading{start: t0, at: now, known: err == nil, writable: err == nil && !ro}
		s.latest[n] = r
		if r.known {
			s.samples[n]++
			if last := s.lastOK[n]; !last.IsZero() {
				s.maxGap[n] = max(s.maxGap[n], now.Sub(last))
				if now.Sub(last) > vipGrace {
					s.backAt[n] = now
				}
			}
			s.lastOK[n] = now
			switch {
			case r.writable && s.wrSince[n].IsZero():
				s.wrSince[n] = now
			case !r.writable && !s.wrSince[n].IsZero():
				s.wrTimes[n] = append(s.wrTimes[n], episode{what: n.Name + " writable", from: s.wrSince[n], to: now})
				s.wrSince[n] = time.Time{}
			}
		}
		s.mu.Unlock()
		if d := samplePeriod - time.Since(t0); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
	}
}

func (s *sampler) checkLoop(ctx context.Context) {
	tick := time.NewTicker(samplePeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		s.check(time.Now())
	}
}

// check evaluates the invariants on the latest fresh readings.
func (s *sampler) check(now time.Time) {
	holders := s.mon.Holders()
	var lastChange time.Time
	if evs := s.mon.Events(); len(evs) > 0 {
		lastChange = evs[len(evs)-1].At
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	var writable []*lab.Node
	for _, n := range s.l.Keepalived() {
		r := s.latest[n]
		if r.known && r.writable && now.Sub(r.at) <= sampleFresh {
			writable = append(writable, n)
		}
	}
	bad := map[string]bool{}
	// Two servers were writable at once only if each one's latest writable
	// reading was asked after the other was already seen writable: a
	// reading of the old primary asked just before its fence stays fresh
	// for sampleFresh and would otherwise overlap the new primary's first
	// writable reading although the fence came first.
	var both []*lab.Node
	for _, x := range writable {
		for _, y := range writable {
			if x != y && s.latest[x].start.After(s.wrSince[y]) && s.latest[y].start.After(s.wrSince[x]) && !slices.Contains(both, x) {
				both = append(both, x)
			}
		}
	}
	if len(both) >= 2 {
		bad[strings.Join(names(both), " and ")+" both writable"] = true
	}
	for _, n := range writable {
		if !slices.Contains(holders, n) && now.Sub(lastChange) > vipGrace && now.Sub(s.backAt[n]) > vipGrace {
			bad[n.Name+" writable without the VIP (more than 1 s after the last VIP change, or after it answered again)"] = true
		}
	}
	for what, e := range s.open {
		if !bad[what] {
			e.to = now
			s.episodes = append(s.episodes, *e)
			delete(s.open, what)
		}
	}
	for what := range bad {
		if s.open[what] == nil {
			s.open[what] = &episode{what: what, from: now}
		}
	}
}

// Stop ends the sampling; the open episodes end now.
func (s *sampler) Stop() {
	s.cancel()
	s.wg.Wait()
	s.closeDBs()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for what, e := range s.open {
		e.to = now
		s.episodes = append(s.episodes, *e)
		delete(s.open, what)
	}
	for n, since := range s.wrSince {
		if !since.IsZero() {
			s.wrTimes[n] = append(s.wrTimes[n], episode{what: n.Name + " writable", from: since})
		}
	}
	sort.Slice(s.episodes, func(i, j int) bool { return s.episodes[i].from.Before(s.episodes[j].from) })
}

// violations describes every episode, relative to the scenario start.
func (s *sampler) violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.episodes {
		out = append(out, fmt.Sprintf("%s from %+.2f s to %+.2f s (%s)", e.what, e.from.Sub(s.start).Seconds(), e.to.Sub(s.start).Seconds(), msecs(e.to.Sub(e.from))))
	}
	return out
}

// writableAfter returns the first time after t that n turned writable
// (a server already writable at t counts only once it turned writable
// again).
func (s *sampler) writableAfter(n *lab.Node, t time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.wrTimes[n] {
		if e.from.After(t) {
			return e.from, true
		}
	}
	if since := s.wrSince[n]; since.After(t) {
		return since, true
	}
	return time.Time{}, false
}

// summary says how often each server answered.
func (s *sampler) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for _, n := range s.l.Keepalived() {
		parts = append(parts, fmt.Sprintf("%s %d answers (longest without one %s)", n.Name, s.samples[n], msecs(s.maxGap[n])))
	}
	return fmt.Sprintf("read_only sampled every %v (each query bounded by %v), invariants checked %d times: %s",
		samplePeriod, sampleTimeout, s.checks, strings.Join(parts, ", "))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
