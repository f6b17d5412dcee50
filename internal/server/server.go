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
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/hacheck/hacheck/check"
	"github.com/hacheck/hacheck/internal/config"
	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
)

// Server holds what the handlers read.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	watcher *state.Watcher
	monitor *health.Monitor
}

// New wires a server; Run starts the background parts and the listener.
func New(cfg *config.Config, log *slog.Logger, entries []health.Entry) *Server {
	s := &Server{cfg: cfg, log: log}
	s.watcher = state.NewWatcher(state.Store{Dir: cfg.StateDir}, log, s.stateChanged)
	s.monitor = health.NewMonitor(entries, cfg.StaleAfter, s.checkRan)
	return s
}

func (s *Server) stateChanged(st state.State, err error) {
	if err != nil {
		s.log.Warn("state not usable: reporting unhealthy", "err", err)
		return
	}
	s.log.Info("state changed", "state", st.State, "generation", st.Generation, "by", st.ChangedBy, "reason", st.Reason)
}

func (s *Server) checkRan(r check.Result) {
	if r.OK {
		s.log.Debug("check passed", "check", r.Name, "took", r.Took, "detail", r.Detail)
	} else {
		s.log.Warn("check failed", "check", r.Name, "took", r.Took, "detail", r.Detail)
	}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", s.healthz)
	r.Head("/healthz", s.healthz)
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

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ok, _, _, _, _ := s.healthy(time.Now())
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	body := "false\n"
	code := http.StatusServiceUnavailable
	if ok {
		body, code = "true\n", http.StatusOK
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	_, _, checks, st, stErr := s.healthy(time.Now())
	rep := health.NewReport(s.cfg.Node, st, stErr, checks, health.QueryVIP(s.cfg))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// ShutdownTimeout bounds the graceful stop.
const ShutdownTimeout = 5 * time.Second

// Run serves until ctx ends, then shuts down gracefully. Stopping never
// changes the state. ready, when not nil, receives the bound address.
func (s *Server) Run(ctx context.Context, ready chan<- net.Addr) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchErr := make(chan error, 1)
	go func() { watchErr <- s.watcher.Run(ctx) }()
	go s.monitor.Run(ctx)

	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	s.log.Info("serving", "listen", ln.Addr().String(), "state_dir", s.cfg.StateDir, "checks", len(s.cfg.Checks))
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
			runErr = fmt.Errorf("watch state directory %s: %w", s.cfg.StateDir, err)
		}
	}
	s.log.Info("shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("shutdown: %w", err))
	}
	return runErr
}
