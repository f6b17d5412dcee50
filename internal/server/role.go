package server

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/hacheck/hacheck/internal/health"
)

// RoleInterval is how often serve reads this node's database role for
// /primary, /replica and /status; a role older than StaleAfter intervals
// (plus one for the read) counts as unknown: 503.
const RoleInterval = time.Second

// roleWatch keeps the latest role read, for handlers that answer from
// memory.
type roleWatch struct {
	read   func(context.Context) health.Role
	latest atomic.Pointer[health.Role]
}

func (w *roleWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		r := w.read(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.latest.Store(&r)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fresh returns the latest role if it is younger than limit.
func (w *roleWatch) fresh(now time.Time, limit time.Duration) (health.Role, bool) {
	if w == nil {
		return health.Role{}, false
	}
	r := w.latest.Load()
	if r == nil || now.Sub(r.At) > limit {
		return health.Role{}, false
	}
	return *r, true
}

func (s *Server) roleLimit() time.Duration {
	return time.Duration(max(s.opt.StaleAfter, 1)+1) * RoleInterval
}

// primary answers 200 only when this node holds the VIP and its server is
// writable and not a stale ex-primary, as read within the freshness limit:
// the endpoint for load balancers that send database writes.
func (s *Server) primary(w http.ResponseWriter, r *http.Request) {
	role, ok := s.roles.fresh(time.Now(), s.roleLimit())
	s.answer(w, r, ok && role.Primary)
}

// replica answers 200 while this node's server replicates with both
// threads running and no error; ?max_lag=DURATION also demands
// Seconds_Behind_* at most that (unknown lag fails).
func (s *Server) replica(w http.ResponseWriter, r *http.Request) {
	role, ok := s.roles.fresh(time.Now(), s.roleLimit())
	ok = ok && role.Replicating
	if v := r.URL.Query().Get("max_lag"); v != "" {
		maxLag, err := time.ParseDuration(v)
		if err != nil {
			if n, nerr := strconv.Atoi(v); nerr == nil {
				maxLag, err = time.Duration(n)*time.Second, nil
			}
		}
		if err != nil || maxLag < 0 {
			http.Error(w, "max_lag: "+strconv.Quote(v)+" is not a duration such as 10s\n", http.StatusBadRequest)
			return
		}
		ok = ok && role.SecondsBehind != nil && time.Duration(*role.SecondsBehind)*time.Second <= maxLag
	}
	s.answer(w, r, ok)
}

// answer writes the same bodies and headers as /healthz.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, ok bool) {
	h := w.Header()
	h["Content-Type"] = hdrTextPlain
	h["Cache-Control"] = hdrNoStore
	body, code := bodyFalse, http.StatusServiceUnavailable
	h["Content-Length"] = lenFalse
	if ok {
		body, code = bodyTrue, http.StatusOK
		h["Content-Length"] = lenTrue
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// reconcile runs the node's background repair until ctx ends.
func (s *Server) reconcile(ctx context.Context) {
	var wake <-chan struct{}
	if s.opt.ReconcileWake != nil {
		wake = s.opt.ReconcileWake(ctx)
	}
	for {
		next := s.opt.Reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		case _, ok := <-wake:
			if !ok {
				wake = nil // the subscription ended: the interval alone
				continue
			}
			s.log.Debug("reconcile: the VIP changed; looking now")
		}
	}
}
