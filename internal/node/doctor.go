package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hacheck/hacheck/internal/answer"
	"github.com/hacheck/hacheck/internal/doctor"
	"github.com/hacheck/hacheck/internal/keepalived"
	"github.com/hacheck/hacheck/internal/statecheck"
)

// Doctor gathers what `hacheck doctor` judges (see internal/doctor): the
// binary keepalived runs and the directories above it, the configuration
// file's warnings, keepalived.config, the server's grants and the peer.
// Every read is bounded by ctx; nothing is changed.
func (n *Node) Doctor(ctx context.Context) []doctor.Finding {
	c := n.cfg
	f := doctor.Facts{ConfigFile: c.File, ConfigWarnings: c.Warnings, StateDir: c.StateDir, CheckTimeout: c.CheckTimeout,
		FenceKill: c.MySQL.FenceKill, ReplicationSet: c.Replication.User != "", PeerURL: c.Peer.URL}
	_, f.StateOnly = statecheck.Read(c.File, os.Environ())
	if path := c.Keepalived.Config; path != "" {
		f.KeepalivedFile = path
		b, err := os.ReadFile(path)
		if err == nil {
			f.Keepalived, err = keepalived.Parse(string(b))
		}
		f.KeepalivedErr = err
	}
	for _, sc := range f.Keepalived.Scripts {
		if bin, ok := doctor.CheckScript(sc.Command); ok {
			f.Binary = bin
		}
	}
	if f.Binary == "" {
		if exe, err := os.Executable(); err == nil {
			f.Binary = exe
		}
	}
	if f.Binary != "" {
		f.Path = pathFacts(f.Binary)
	}
	if n.local != nil {
		f.Database = n.local.String()
		qctx, cancel := context.WithTimeout(ctx, c.MySQL.QueryTimeout)
		f.Grants, f.GrantsErr = n.local.Grants(qctx)
		cancel()
	}
	if c.Peer.URL != "" {
		_, f.PeerErr = n.peer.Status(ctx)
	}
	if n.multi() {
		var names []string
		var errs []error
		for _, p := range n.peers {
			names = append(names, p.name())
			rep, err := p.client.Status(ctx)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: %w", p.name(), err))
			case rep.Node != p.name():
				errs = append(errs, fmt.Errorf("%s: its url answers as node %q (fix peers[].url or peers[].name)", p.name(), rep.Node))
			}
		}
		f.PeerURL, f.PeerErr = strings.Join(names, ", "), errors.Join(errs...)
	}
	f.AnswerFor, f.VIPConfigured, f.NetAdmin = c.Drain.AnswerFor, c.VIP.Configured(), answer.NetAdmin()
	if l, found, err := answer.Load(c.StateDir); err == nil && found {
		f.LeasePID = l.PID
		f.LeaseAlive = syscall.Kill(l.PID, 0) != syscall.ESRCH
	}
	return doctor.Examine(f)
}

// pathFacts stats path and every directory above it, from / down.
func pathFacts(path string) []doctor.PathFact {
	path = filepath.Clean(path)
	var parts []string
	for p := path; ; p = filepath.Dir(p) {
		parts = append([]string{p}, parts...)
		if p == "/" || p == "." {
			break
		}
	}
	out := make([]doctor.PathFact, 0, len(parts))
	for _, p := range parts {
		pf := doctor.PathFact{Path: p}
		fi, err := os.Stat(p)
		if err != nil {
			pf.Err = err
		} else {
			pf.Mode = fi.Mode()
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				pf.UID = int(st.Uid)
			}
		}
		out = append(out, pf)
	}
	return out
}
