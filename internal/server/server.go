// Package server is `hacheck serve`: the HTTP face of the node for load
// balancers and monitoring. It answers from memory (the state watcher and
// the check monitor), so the poll rate of load balancers never becomes load
// on the checked services.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// Options is what a server needs of its node; internal/node fills it
// from the configuration.
type Options struct {
	Node       string      // node: shown in /status
	Store      state.Store // state_dir
	Listen     string      // listen
	StaleAfter int         // stale_after
	Checks     []health.Entry
	// VIP reads the VIP for /status and /metrics; nil: none configured.
	VIP func() *vip.Status
	// MySQL reads the last database decision for /status; nil: none.
	MySQL func() *health.MySQLStatus
	// Drain reads the drain journal and last drain for /status; nil: none.
	Drain func() *health.DrainStatus
	// Keepalived reads this node's keepalived election settings for
	// /status; nil: none.
	Keepalived func() *health.Keepalived
	// Admin API (admin.*): off unless Enabled; Ops carries it out.
	Admin        Admin
	Ops          Operator
	DrainTimeout time.Duration // drain.timeout: bounds an admin drain or undrain
	// ConfigFile is the configuration file serve runs with, absolute: a
	// CLI drain (clidrain) is run here only for the same file.
	ConfigFile string
	// DrainAfter bounds what a CLI drain does after its drain: the finish
	// of a move among several nodes, --follow, the Galera wait.
	DrainAfter  time.Duration
	AgentListen string // agent.listen; "" = off
	// Role reads this node's database role now, every RoleInterval, for
	// /primary, /replica and /status; nil: no database (both 503).
	Role func(context.Context) health.Role
	// Reconcile, when set, runs in the background: one look and repair
	// per call, returning when to call again (internal/node's Reconciler).
	Reconcile func(context.Context) time.Duration
	// ReconcileWake, when set, returns a channel that signals a change
	// worth looking at at once (the VIP added to or removed from this
	// node): Reconcile then runs without waiting for its next interval.
	ReconcileWake func(context.Context) <-chan struct{}
	// ReconcileStats counts what Reconcile did: promotions retried and
	// follows of a stale ex-primary.
	ReconcileStats func() (retries, followed uint64)
}

// Admin is the admin API's configuration.
type Admin struct {
	Enabled   bool
	TokenFile string // bearer token file; "" = no token auth
	Socket    string // unix socket path; "" = none
}

// Operator drains and undrains the node: the same operations as the CLI
// (internal/node implements it).
type Operator interface {
	Drain(ctx context.Context, opt drain.Options, out io.Writer) (drain.Result, error)
	// RunDrain is the whole `hacheck drain` command (node.RunDrain); an
	// error with an exit code is an *exitcode.Error.
	RunDrain(ctx context.Context, req drain.Request, out io.Writer) error
	Undrain(ctx context.Context, opt drain.Options, out io.Writer) (state.State, bool, error)
	// Hold keeps this node out of the election while another node moves
	// the primary to a successor, for ttl (see node.Hold); Release ends it.
	Hold(ctx context.Context, req peer.HoldRequest, ttl time.Duration) (peer.HoldResponse, error)
	Release(req peer.HoldRequest) (peer.HoldResponse, error)
}

// Server holds what the handlers read.
type Server struct {
	opt       Options
	log       *slog.Logger
	watcher   *state.Watcher
	monitor   *health.Monitor
	counters  *counters
	roles     *roleWatch // nil without a database
	tokenHash []byte     // sha256 of the admin token; nil: no token auth
	// What serve ran with at start, for a CLI drain (cliDrainRefusal):
	// its configuration file's digest, its executable, its process (uid,
	// capabilities, no_new_privs and mount namespace do not change while
	// it runs).
	configAt, binaryAt string
	self               process
	selfErr            error
	// cliDrains are the CLI drains running; stopping cancels them (so
	// they undo) and waits for them.
	cliDrains   sync.WaitGroup
	stopDrains  context.Context
	cancelDrain context.CancelFunc
}

// New wires a server; Run starts the background parts and the listeners.
// It fails when the admin API is enabled with an unusable token file.
func New(opt Options, log *slog.Logger) (*Server, error) {
	s := &Server{opt: opt, log: log, counters: newCounters(), binaryAt: binaryID()}
	s.self, s.selfErr = readProcess("self", os.Getuid())
	if opt.ConfigFile != "" {
		s.configAt = fileDigest(opt.ConfigFile)
	}
	s.stopDrains, s.cancelDrain = context.WithCancel(context.Background())
	if opt.Admin.Enabled && opt.Admin.TokenFile != "" {
		h, err := loadToken(opt.Admin.TokenFile)
		if err != nil {
			return nil, err
		}
		s.tokenHash = h
	}
	s.watcher = state.NewWatcher(opt.Store, log, s.stateChanged)
	s.monitor = health.NewMonitor(opt.Checks, opt.StaleAfter, s.checkRan)
	if opt.Role != nil {
		s.roles = &roleWatch{read: opt.Role}
	}
	return s, nil
}

func (s *Server) vipStatus() *vip.Status {
	if s.opt.VIP == nil {
		return nil
	}
	return s.opt.VIP()
}

func (s *Server) mysqlStatus() *health.MySQLStatus {
	if s.opt.MySQL == nil {
		return nil
	}
	return s.opt.MySQL()
}

// lastTransition is the last keepalived transition `hacheck notify` saw.
func (s *Server) lastTransition() (state.Transition, bool) {
	t, ok, err := s.opt.Store.LoadTransition()
	return t, ok && err == nil
}

func (s *Server) stateChanged(st state.State, err error) {
	if err != nil {
		s.log.Warn("state not usable: reporting unhealthy", "err", err)
		return
	}
	s.log.Info("state changed", "state", st.State, "generation", st.Generation, "by", st.ChangedBy, "reason", st.Reason)
}

func (s *Server) checkRan(r check.Result) {
	s.counters.checkRan(r)
	if r.OK {
		s.log.Debug("check passed", "check", r.Name, "took", r.Took, "detail", r.Detail)
	} else {
		s.log.Warn("check failed", "check", r.Name, "took", r.Took, "detail", r.Detail)
	}
}

// Handler returns the routes of the main listener.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", s.healthz)
	r.Head("/healthz", s.healthz)
	r.Get("/primary", s.counters.countRequests("primary", s.primary))
	r.Head("/primary", s.counters.countRequests("primary", s.primary))
	r.Get("/replica", s.counters.countRequests("replica", s.replica))
	r.Head("/replica", s.counters.countRequests("replica", s.replica))
	r.Get("/status", s.counters.countRequests("status", s.status))
	r.Get("/metrics", s.metrics)
	if s.tokenHash != nil {
		r.Group(func(r chi.Router) {
			r.Use(func(next http.Handler) http.Handler { return requireToken(s.tokenHash, next) })
			s.adminRoutes(r)
		})
	}
	return r
}

// socketHandler serves the admin API on the unix socket, where the file
// permissions are the authentication.
func (s *Server) socketHandler() http.Handler {
	r := chi.NewRouter()
	s.adminRoutes(r)
	r.Get("/status", s.status)
	return r
}

// healthy is the verdict from memory: no I/O.
func (s *Server) healthy(now time.Time) (bool, string, []health.CheckReport, state.State, error) {
	st, stErr := s.watcher.Current()
	checks := s.monitor.Snapshot(now)
	results := make([]check.Result, len(checks))
	for i, c := range checks {
		results[i] = c.Result
	}
	ok, reason := health.Verdict(st, stErr, results)
	return ok, reason, checks, st, stErr
}

// Bodies and headers of /healthz, built once: the handler is the hot path
// (every load balancer polls it) and allocates nothing of its own.
var (
	bodyTrue     = []byte("true\n")
	bodyFalse    = []byte("false\n")
	lenTrue      = []string{"5"}
	lenFalse     = []string{"6"}
	hdrTextPlain = []string{"text/plain; charset=utf-8"}
	hdrNoStore   = []string{"no-store"}
)

// healthz answers the verdict of health.Verdict from memory: the state is
// a readable "up" and every check's latest result passed and is fresh.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ok := s.watcher.Up() && s.monitor.AllOK(time.Now())
	h := w.Header()
	h["Content-Type"] = hdrTextPlain
	h["Cache-Control"] = hdrNoStore
	body, code := bodyFalse, http.StatusServiceUnavailable
	h["Content-Length"] = lenFalse
	if ok {
		body, code = bodyTrue, http.StatusOK
		h["Content-Length"] = lenTrue
	}
	s.counters.healthz(ok)
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// status is GET /status: the verdict (state, checks), the VIP, the
// database, the drain and keepalived. With ?brief=1 only the verdict
// (health.NewReport without the VIP): what a peer's drain reads in its
// peer-ready precondition, without the netlink read and the files the
// rest costs (measured under the lab's transactional load: 1-9 ms).
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	_, _, checks, st, stErr := s.healthy(time.Now())
	var rep health.Report
	if r.URL.Query().Get("brief") != "" {
		rep = health.NewReport(s.opt.Node, st, stErr, checks, nil)
	} else {
		rep = s.fullReport(st, stErr, checks)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// fullReport is /status's report: the verdict, the VIP, the database, the
// drain and keepalived.
func (s *Server) fullReport(st state.State, stErr error, checks []health.CheckReport) health.Report {
	rep := health.NewReport(s.opt.Node, st, stErr, checks, s.vipStatus())
	rep.MySQL = s.mysqlStatus()
	if role, ok := s.roles.fresh(time.Now(), s.roleLimit()); ok {
		rep.Role = &role
	}
	if s.opt.Drain != nil {
		rep.Drain = s.opt.Drain()
	}
	if s.opt.Keepalived != nil {
		rep.Keepalived = s.opt.Keepalived()
	}
	return rep
}

// ShutdownTimeout bounds the graceful stop.
const ShutdownTimeout = 5 * time.Second

// Run serves until ctx ends, then shuts down gracefully. Stopping never
// changes the state. ready, when not nil, receives the bound address.
func (s *Server) Run(ctx context.Context, ready chan<- net.Addr) error {
	ln, err := net.Listen("tcp", s.opt.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opt.Listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Background parts: Run returns only after they have stopped, so
	// nothing writes to the state directory after serve has returned.
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	watchErr := make(chan error, 1)
	bg.Go(func() { watchErr <- s.watcher.Run(ctx) })
	bg.Go(func() { s.monitor.Run(ctx) })
	if s.roles != nil {
		bg.Go(func() { s.roles.run(ctx, RoleInterval) })
	}
	if s.opt.Reconcile != nil {
		bg.Go(func() { s.reconcile(ctx) })
	}

	srv := s.httpServer(s.Handler())
	serveErr := make(chan error, 3)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("serving", "listen", ln.Addr().String(), "state_dir", s.opt.Store.Dir, "checks", len(s.opt.Checks),
		"admin_token", s.tokenHash != nil, "admin_socket", s.opt.Admin.Enabled && s.opt.Admin.Socket != "")

	var sock *http.Server
	if s.opt.Admin.Enabled && s.opt.Admin.Socket != "" {
		sln, err := listenAdminSocket(s.opt.Admin.Socket)
		if err != nil {
			srv.Close()
			return err
		}
		defer os.Remove(s.opt.Admin.Socket)
		sock = s.httpServer(s.socketHandler())
		sock.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			desc, peer, ok := peerCred(c)
			ctx = context.WithValue(ctx, peerCredKey{}, desc)
			if ok {
				ctx = context.WithValue(ctx, peerProcKey{}, peer)
			}
			return ctx
		}
		go func() { serveErr <- sock.Serve(sln) }()
		s.log.Info("admin socket", "path", s.opt.Admin.Socket)
	}
	if s.opt.AgentListen != "" {
		aln, err := net.Listen("tcp", s.opt.AgentListen)
		if err != nil {
			srv.Close()
			if sock != nil {
				sock.Close()
			}
			return fmt.Errorf("agent.listen %s: %w", s.opt.AgentListen, err)
		}
		bg.Go(func() { serveErr <- s.serveAgent(ctx, aln) })
		s.log.Info("haproxy agent", "listen", aln.Addr().String())
	}
	if ready != nil {
		ready <- ln.Addr()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-watchErr:
		if err != nil {
			runErr = fmt.Errorf("watch state directory %s: %w", s.opt.Store.Dir, err)
		}
	}
	s.log.Info("shutting down")
	// A CLI drain running here is interrupted (its steps undone before the
	// flip, as the CLI's own drain on Ctrl-C) and its end waited for, so
	// that it does not die halfway with the process.
	s.cancelDrain()
	s.cliDrains.Wait()
	sctx, scancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	if sock != nil {
		if err := sock.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			runErr = errors.Join(runErr, fmt.Errorf("shutdown admin socket: %w", err))
		}
	}
	return runErr
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second, // admin drains extend their own
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}
