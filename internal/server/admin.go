package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hacheck/hacheck/internal/clidrain"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
)

// The admin API: POST /v1/drain, /v1/undrain, /v1/hold and /v1/release, off unless
// admin.enabled. It is authenticated by a bearer token read from
// admin.token_file (on the main listener), or by the file permissions of
// the unix socket admin.socket (no token there), or both. A drain over
// HTTP runs exactly the preconditions and steps of `hacheck drain`. The
// admin socket also takes the CLI's own drains (POST /v1/cli/drain:
// clidrain.go).

// maxAdminBody bounds request bodies.
const maxAdminBody = 4 << 10

// minTokenLen is the shortest token accepted: shorter is not a secret.
const minTokenLen = 16

// loadToken reads the bearer token and refuses a file others can read.
func loadToken(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("admin.token_file %s has mode %04o: it must not be readable or writable by group or other (run chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %w", err)
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < minTokenLen {
		return nil, fmt.Errorf("admin.token_file %s holds a token of %d bytes; use at least %d (e.g. openssl rand -hex 32)", path, len(tok), minTokenLen)
	}
	sum := sha256.Sum256(tok)
	return sum[:], nil
}

// requireToken rejects requests without the bearer token: 401 when none
// is given, 403 when it is wrong. The comparison is constant-time over
// fixed-length hashes, so neither content nor length leaks.
func requireToken(tokenHash []byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		given, found := strings.CutPrefix(auth, "Bearer ")
		if !found || given == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hacheck"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing bearer token (send Authorization: Bearer TOKEN)"})
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(given)))
		if subtle.ConstantTimeCompare(sum[:], tokenHash) != 1 {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminRequest is the optional JSON body of both endpoints.
type adminRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by"` // who asks, for the audit trail
	DryRun bool   `json:"dry_run"`
	Force  bool   `json:"force"`
	// To (drain among several nodes) names the successor; "" chooses.
	To string `json:"to"`
}

// adminResponse is what both endpoints answer.
type adminResponse struct {
	Outcome  string       `json:"outcome"` // drained, already_drained, dry_run_passed, refused, busy, unfinished, up, already_up, error
	State    *state.State `json:"state,omitempty"`
	Failures []string     `json:"failures,omitempty"`
	Output   string       `json:"output,omitempty"`
	Error    string       `json:"error,omitempty"`
}

func (s *Server) adminRoutes(mux interface {
	Post(string, http.HandlerFunc)
}) {
	mux.Post("/v1/drain", s.counters.countRequests("drain", s.adminDrain))
	mux.Post(clidrain.Path, s.counters.countRequests("cli_drain", s.cliDrain))
	mux.Post("/v1/undrain", s.counters.countRequests("undrain", s.adminUndrain))
	mux.Post("/v1/hold", s.counters.countRequests("hold", s.adminHold))
	mux.Post("/v1/release", s.counters.countRequests("release", s.adminRelease))
}

// decodeHold reads the body of /v1/hold and /v1/release.
func decodeHold(w http.ResponseWriter, r *http.Request) (peer.HoldRequest, bool) {
	var req peer.HoldRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	switch {
	case err != nil:
		writeJSON(w, http.StatusBadRequest, peer.HoldResponse{Outcome: "error", Error: "bad JSON body (fields: for, by, ttl, reason): " + err.Error()})
		return req, false
	case strings.TrimSpace(req.For) == "" || strings.TrimSpace(req.By) == "":
		writeJSON(w, http.StatusBadRequest, peer.HoldResponse{Outcome: "error", Error: "for (the successor) and by (the node that drains) are required"})
		return req, false
	case len(req.Reason) > 1000 || len(req.For) > 200 || len(req.By) > 200:
		writeJSON(w, http.StatusBadRequest, peer.HoldResponse{Outcome: "error", Error: "reason (1000), for or by (200 bytes) too long"})
		return req, false
	}
	return req, true
}

// adminHold makes this node ineligible for the move of req.By's primary
// to req.For, for req.TTL, and answers once the hold is in effect (see
// node.Hold): 200 held, 409 refused, 400 bad body.
func (s *Server) adminHold(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeHold(w, r)
	if !ok {
		return
	}
	ttl, err := peer.ParseTTL(req.TTL)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, peer.HoldResponse{Outcome: "error", Error: err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), min(ttl, s.opt.DrainTimeout))
	defer cancel()
	resp, err := s.opt.Ops.Hold(ctx, req, ttl)
	code := http.StatusOK
	if err != nil {
		resp.Outcome, resp.Error, code = "refused", err.Error(), http.StatusConflict
	}
	s.log.Info("admin hold", "for", req.For, "by", req.By, "ttl", ttl, "from", r.RemoteAddr, "outcome", resp.Outcome, "confirmed", resp.Confirmed, "err", resp.Error)
	writeJSON(w, code, resp)
}

// adminRelease drops the hold of req's move: 200 released or not_held.
func (s *Server) adminRelease(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeHold(w, r)
	if !ok {
		return
	}
	resp, err := s.opt.Ops.Release(req)
	code := http.StatusOK
	if err != nil {
		resp.Outcome, resp.Error, code = "error", err.Error(), http.StatusInternalServerError
	}
	s.log.Info("admin release", "for", req.For, "by", req.By, "from", r.RemoteAddr, "outcome", resp.Outcome, "err", resp.Error)
	writeJSON(w, code, resp)
}

func decodeAdmin(w http.ResponseWriter, r *http.Request) (adminRequest, bool) {
	var req adminRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, adminResponse{Outcome: "error", Error: fmt.Sprintf("request body over %d bytes", maxAdminBody)})
			return req, false
		}
		writeJSON(w, http.StatusBadRequest, adminResponse{Outcome: "error", Error: "bad JSON body (fields: reason, by, dry_run, force, to): " + err.Error()})
		return req, false
	}
	if len(req.Reason) > 1000 || len(req.By) > 200 {
		writeJSON(w, http.StatusBadRequest, adminResponse{Outcome: "error", Error: "reason (1000) or by (200 bytes) too long"})
		return req, false
	}
	return req, true
}

// who names the caller for the audit trail: the name it gives (or
// "admin-api"), and where it came from.
func who(r *http.Request, req adminRequest) (by, from string) {
	by = strings.TrimSpace(req.By)
	if by == "" {
		by = "admin-api"
	}
	by += " via http"
	from = r.RemoteAddr
	if cred, ok := r.Context().Value(peerCredKey{}).(string); ok {
		from = cred
	}
	return by, from
}

func (s *Server) adminDrain(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeAdmin(w, r)
	if !ok {
		return
	}
	by, from := who(r, req)
	opt := drain.Options{Reason: req.Reason, By: by, Via: "http", From: from, DryRun: req.DryRun, Force: req.Force, To: strings.TrimSpace(req.To)}
	// The drain may take up to drain.timeout, and a drain among several
	// nodes as long again to finish the move after its flip: extend this
	// response's write deadline past both, and do not let a client
	// disconnect abort it halfway (a refused drain still undoes its steps).
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(2*s.opt.DrainTimeout + 5*time.Second))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.opt.DrainTimeout)
	defer cancel()
	var out bytes.Buffer
	res, err := s.opt.Ops.Drain(ctx, opt, &out)
	sum := drain.Summarize(res, err)
	resp := adminResponse{Outcome: sum.Word, Output: out.String()}
	for _, f := range res.Failures {
		resp.Failures = append(resp.Failures, f.Name+": "+f.Detail)
	}
	code := http.StatusOK
	switch sum.Word {
	case "busy", "refused":
		resp.Error, code = err.Error(), http.StatusConflict
	case "unfinished":
		resp.Error, code = err.Error(), http.StatusConflict
		resp.State = &res.State
	case "error":
		resp.Error, code = err.Error(), http.StatusInternalServerError
	case "drained":
		resp.State = &res.State
	}
	s.log.Info("admin drain", "by", by, "from", from, "reason", req.Reason, "to", req.To, "dry_run", req.DryRun, "force", req.Force, "outcome", resp.Outcome, "err", resp.Error)
	writeJSON(w, code, resp)
}

func (s *Server) adminUndrain(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeAdmin(w, r)
	if !ok {
		return
	}
	if req.DryRun || req.Force {
		writeJSON(w, http.StatusBadRequest, adminResponse{Outcome: "error", Error: "undrain takes no dry_run or force"})
		return
	}
	by, from := who(r, req)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.opt.DrainTimeout)
	defer cancel()
	var out bytes.Buffer
	st, changed, err := s.opt.Ops.Undrain(ctx, drain.Options{Reason: req.Reason, By: by, Via: "http", From: from}, &out)
	resp := adminResponse{Outcome: "up", State: &st, Output: out.String()}
	code := http.StatusOK
	switch {
	case errors.Is(err, state.ErrBusy):
		resp = adminResponse{Outcome: "busy", Error: err.Error()}
		code = http.StatusConflict
	case errors.Is(err, drain.ErrRefused):
		resp = adminResponse{Outcome: "refused", Error: err.Error(), Output: out.String()}
		code = http.StatusConflict
	case err != nil:
		resp = adminResponse{Outcome: "error", Error: err.Error()}
		code = http.StatusInternalServerError
	case !changed:
		resp.Outcome = "already_up"
	}
	s.log.Info("admin undrain", "by", by, "from", from, "reason", req.Reason, "outcome", resp.Outcome, "err", resp.Error)
	writeJSON(w, code, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// peerCredKey carries "unix:uid=0(root),pid=123" for admin-socket
// connections.
type peerCredKey struct{}

// listenAdminSocket creates the unix socket with mode 0660: access is
// whatever the file permissions (owner and group of the socket) allow.
func listenAdminSocket(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin.socket %s exists and is not a socket; refusing to replace it", path)
		}
		os.Remove(path) // a socket left by a previous run
	}
	old := unix.Umask(0o117)
	ln, err := net.Listen("unix", path)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin.socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin.socket: %w", err)
	}
	return ln, nil
}

// peerProcKey carries the uid and pid of the process on the other end of
// an admin-socket connection, when they could be read.
type peerProcKey struct{}

// peerProc is the uid and pid of the process on the other end.
type peerProc struct{ UID, PID int }

// peerCred describes the process on the other end of a unix connection,
// and gives its uid and pid (ok false when they cannot be read).
func peerCred(c net.Conn) (desc string, p peerProc, ok bool) {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return "", p, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unix", p, false
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return "unix", p, false
	}
	name := strconv.Itoa(int(cred.Uid))
	if u, err := user.LookupId(name); err == nil {
		name += "(" + u.Username + ")"
	}
	return fmt.Sprintf("unix:uid=%s,pid=%d", name, cred.Pid), peerProc{UID: int(cred.Uid), PID: int(cred.Pid)}, true
}
