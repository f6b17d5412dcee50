package server

// This file is POST /v1/cli/drain (internal/clidrain): serve runs a CLI's
// drain, the handler and the rule of when it may (cliDrainRefusal).

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hacheck/hacheck/internal/clidrain"
	"github.com/hacheck/hacheck/internal/drain"
	"github.com/hacheck/hacheck/internal/exitcode"
)

// process is what matters of a process for running a drain in its place:
// a drain runs with the rights of who asks for it (its precondition
// scripts run with them, its answer step needs CAP_NET_ADMIN).
type process struct {
	UID        int
	CapEff     string // /proc/PID/status CapEff
	NoNewPrivs string // /proc/PID/status NoNewPrivs
	MountNS    string // /proc/PID/ns/mnt: the files it sees
}

// readProcess reads pid's process facts from /proc ("self" for this one).
func readProcess(pid string, uid int) (process, error) {
	p := process{UID: uid}
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "CapEff":
			p.CapEff = strings.TrimSpace(v)
		case "NoNewPrivs":
			p.NoNewPrivs = strings.TrimSpace(v)
		}
	}
	p.MountNS, err = os.Readlink("/proc/" + pid + "/ns/mnt")
	return p, err
}

// binaryID identifies the executable serve runs, to tell when it has been
// replaced (an upgrade renames the new one over it).
func binaryID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %s", exe, fi.Size(), fi.ModTime().UTC().Format("2006-01-02T15:04:05.000000000"))
}

// fileDigest is the SHA-256 of a file's content ("" when unreadable).
func fileDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// cliDrainFacts is what serve compares before it runs a CLI's drain.
type cliDrainFacts struct {
	CLIConfig, Config   string // the file the CLI read; serve's
	ConfigNow, ConfigAt string // serve's file's digest now; when serve loaded it
	BinaryNow, BinaryAt string // serve's executable now; when serve started
	CLI, Serve          process
	CLIErr              error // the CLI's process could not be read
}

// cliDrainRefusal says why serve must not run this CLI's drain ("" when it
// may): it would not be the drain the CLI would run itself. The CLI then
// runs it in its own process, as without serve.
func cliDrainRefusal(f cliDrainFacts) string {
	switch {
	case f.Config == "":
		return "this serve runs without a configuration file (defaults and environment)"
	case f.CLIConfig != f.Config:
		return fmt.Sprintf("this serve runs %s, the CLI read %s", f.Config, f.CLIConfig)
	case f.ConfigAt == "":
		return fmt.Sprintf("serve could not read %s when it started", f.Config)
	case f.ConfigNow != f.ConfigAt:
		return fmt.Sprintf("%s changed since serve loaded it (restart serve to run drains with it)", f.Config)
	case f.BinaryAt == "" || f.BinaryNow != f.BinaryAt:
		return "the hacheck program was replaced since serve started (an upgrade: restart serve)"
	case f.CLIErr != nil:
		return fmt.Sprintf("the CLI's process cannot be read (%v)", f.CLIErr)
	case f.CLI.UID != f.Serve.UID:
		return fmt.Sprintf("serve runs as uid %d, the CLI as uid %d: a drain runs with the rights of who asks for it", f.Serve.UID, f.CLI.UID)
	case f.CLI.CapEff != f.Serve.CapEff:
		return fmt.Sprintf("serve's capabilities (%s) are not the CLI's (%s): a drain runs with the rights of who asks for it", f.Serve.CapEff, f.CLI.CapEff)
	case f.CLI.NoNewPrivs != f.Serve.NoNewPrivs:
		return "serve runs with no_new_privs and the CLI does not, or the other way round: a drain runs with the rights of who asks for it"
	case f.CLI.MountNS != f.Serve.MountNS:
		return "serve sees other files than the CLI (another mount namespace, e.g. systemd's PrivateTmp or ProtectSystem): a drain's precondition scripts must see the CLI's"
	}
	return ""
}

// cliDrain runs a `hacheck drain` for the CLI (internal/clidrain) and
// streams its output back, one JSON line per write. The drain runs under
// the request: the CLI going away (Ctrl-C, kill -9) interrupts it as it
// would the CLI's own drain. It refuses (409, the CLI then drains itself)
// a drain that would not be the one the CLI runs (cliDrainRefusal).
func (s *Server) cliDrain(w http.ResponseWriter, r *http.Request) {
	var req clidrain.Request
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, clidrain.Refusal{Error: "bad JSON body: " + err.Error()})
		return
	}
	// Read to the end, so that the server watches the connection and
	// cancels the request's context when the CLI goes away.
	io.Copy(io.Discard, r.Body)
	if why := s.refuseCLIDrain(r, req); why != "" {
		writeJSON(w, http.StatusConflict, clidrain.Refusal{Error: why})
		return
	}
	var timeout time.Duration
	if req.Timeout != "" {
		d, err := time.ParseDuration(req.Timeout)
		if err != nil || d <= 0 {
			writeJSON(w, http.StatusBadRequest, clidrain.Refusal{Error: fmt.Sprintf("timeout %q is not a positive duration", req.Timeout)})
			return
		}
		timeout = d
	}
	by := strings.TrimSpace(req.By)
	if by == "" {
		by = "cli"
	}
	_, from := who(r, adminRequest{})
	opt := drain.Options{Reason: req.Reason, By: by, Via: "cli", From: from, DryRun: req.DryRun, Force: req.Force, To: strings.TrimSpace(req.To)}
	budget := timeout
	if budget == 0 {
		budget = s.opt.DrainTimeout
	}
	budget += s.opt.DrainAfter
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(budget + 10*time.Second))
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	lw := &lineWriter{w: w, rc: rc}
	lw.send(clidrain.Line{Budget: budget.Seconds()})
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	// Stopping serve interrupts the drain (undone before its flip) and
	// waits for it, rather than leaving it to the journal's recovery.
	s.cliDrains.Add(1)
	defer s.cliDrains.Done()
	stop := context.AfterFunc(s.stopDrains, cancel)
	defer stop()
	err := s.opt.Ops.RunDrain(ctx, drain.Request{Options: opt, KeepFenced: req.KeepFenced, Follow: req.Follow, Timeout: timeout}, lw)
	code, msg := exitcode.OK, ""
	if err != nil {
		code, msg = exitcode.Fail, err.Error()
		var ee *exitcode.Error
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	lw.send(clidrain.Line{Exit: &code, Error: msg})
	s.log.Info("cli drain", "by", by, "from", from, "reason", req.Reason, "to", req.To, "dry_run", req.DryRun, "force", req.Force,
		"follow", req.Follow, "exit", code, "err", msg, "client_gone", r.Context().Err() != nil)
}

// refuseCLIDrain gathers what cliDrainRefusal compares for this request.
func (s *Server) refuseCLIDrain(r *http.Request, req clidrain.Request) string {
	f := cliDrainFacts{CLIConfig: req.Config, Config: s.opt.ConfigFile, ConfigAt: s.configAt, BinaryAt: s.binaryAt, BinaryNow: binaryID()}
	if f.Config != "" {
		f.ConfigNow = fileDigest(f.Config)
	}
	if s.selfErr != nil {
		return fmt.Sprintf("serve could not read its own process when it started (%v)", s.selfErr)
	}
	f.Serve = s.self
	peer, ok := r.Context().Value(peerProcKey{}).(peerProc)
	if !ok {
		return "the CLI's process is not known (the CLI drain is for the admin socket)"
	}
	f.CLI, f.CLIErr = readProcess(strconv.Itoa(peer.PID), peer.UID)
	return cliDrainRefusal(f)
}

// lineWriter sends each write of a CLI drain's output as one JSON line,
// at once. A CLI that has gone away does not stop the drain's writes.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
	rc *http.ResponseController
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.send(clidrain.Line{Out: string(p)})
	return len(p), nil
}

func (l *lineWriter) send(line clidrain.Line) {
	b, _ := json.Marshal(line)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(append(b, '\n'))
	l.rc.Flush()
}
