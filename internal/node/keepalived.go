package node

import (
	"errors"
	"io/fs"
	"os"

	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/keepalived"
)

// KeepalivedStatus is the first vrrp_instance of keepalived.config, for
// /status (a move among several nodes reads each node's priority and
// nopreempt from there); nil when keepalived.config is "".
func (n *Node) KeepalivedStatus() *health.Keepalived {
	path := n.cfg.Keepalived.Config
	if path == "" {
		return nil
	}
	k := &health.Keepalived{Config: path}
	b, err := os.ReadFile(path)
	if err != nil {
		k.Error = err.Error()
		return k
	}
	cfg, err := keepalived.Parse(string(b))
	if len(cfg.Instances) == 0 {
		k.Error = "no vrrp_instance"
		if err != nil {
			k.Error += ": " + err.Error()
		}
		return k
	}
	in := cfg.Instances[0]
	k.Instance, k.Priority, k.Nopreempt = in.Name, in.Priority, in.Nopreempt && in.State != "MASTER"
	if err != nil {
		// A part it could not read may set another priority: unknown, so
		// a move does not trust it.
		k.Error = err.Error()
	}
	return k
}

// WarnKeepalived reads keepalived.config (when set) and logs a warning for
// each setting that slows a move down or makes it unsafe: a skew time over
// keepalived.MaxSkew, priority 255, no nopreempt (see keepalived.Advise).
// A missing file is not a problem (keepalived may live elsewhere, or hacheck
// is used without it): it is logged at debug level only. It never fails:
// keepalived -t is what validates keepalived's configuration.
func (n *Node) WarnKeepalived() {
	path := n.cfg.Keepalived.Config
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		n.log.Debug("keepalived configuration not found; not reviewed", "path", path)
		return
	}
	if err != nil {
		n.log.Warn("cannot read the keepalived configuration; not reviewed", "path", path, "err", err)
		return
	}
	cfg, err := keepalived.Parse(string(b))
	if err != nil {
		n.log.Warn("keepalived configuration: some values could not be read", "path", path, "err", err)
	}
	if len(cfg.Instances) == 0 {
		n.log.Debug("keepalived configuration has no vrrp_instance; not reviewed", "path", path)
		return
	}
	for _, a := range keepalived.Advise(cfg) {
		n.log.Debug("keepalived instance", "path", path, "instance", a.Instance.Name, "priority", a.Instance.Priority,
			"advert_int", keepalived.SentAdvertInt(a.Instance), "skew", a.Skew)
		for _, w := range a.Warnings {
			n.log.Warn("keepalived configuration: "+w, "path", path)
		}
	}
}
