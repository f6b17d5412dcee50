// Package doctor decides what is wrong with an installation an operator
// has: the facts are gathered by internal/node (files, keepalived.conf,
// the server's grants, the peer), Examine judges them, one finding each,
// with what to do. Nothing here reads a file or a server, and no finding
// ever holds a secret (DSNs come in masked).
package doctor

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/keepalived"
)

// PathFact is one path component as keepalived's enable_script_security
// sees it.
type PathFact struct {
	Path string
	UID  int
	Mode fs.FileMode
	Err  error
}

// Facts is what the doctor looks at.
type Facts struct {
	// Binary is the hacheck that keepalived runs (the vrrp_script's first
	// word, or this executable), and Path its components from / down.
	Binary string
	Path   []PathFact

	ConfigFile     string   // "" when only defaults and the environment apply
	ConfigWarnings []string // config.Config.Warnings (passwords readable by others, ...)

	StateDir     string
	CheckTimeout time.Duration
	// StateOnly: hacheck-check answers for this configuration itself
	// (statecheck.Read takes it) instead of running hacheck check.
	StateOnly bool

	// Keepalived is keepalived.conf as parsed; KeepalivedFile its path
	// ("" = not looked at); KeepalivedErr when it could not be read.
	KeepalivedFile string
	Keepalived     keepalived.Config
	KeepalivedErr  error

	// Database: the account's global privileges on this node's server,
	// which features are on, and the masked DSN.
	Database       string // "" when mysql.dsn is not set
	Grants         []string
	GrantsErr      error
	FenceKill      bool // mysql.fence_kill
	ReplicationSet bool // replication.user: promote catch-up and follow
	// Peer: peer.url's /status answered (PeerErr nil) or not; PeerURL ""
	// when not configured.
	PeerURL string
	PeerErr error

	// The drain's answer step (drain.answer_for): whether it is on, a VIP
	// is configured, this process may change routes (CAP_NET_ADMIN, as a
	// drain run like this would), and a lease file left by a drain
	// (LeasePID its holder, LeaseAlive whether that process still runs).
	AnswerFor     time.Duration
	VIPConfigured bool
	NetAdmin      bool
	LeasePID      int // 0: no lease file
	LeaseAlive    bool
}

// Finding is one line of the doctor's answer.
type Finding struct {
	OK   bool
	What string // what was looked at and what was found
	Fix  string // what to do, when not OK
}

// Examine judges the facts, in a fixed order.
func Examine(f Facts) []Finding {
	var out []Finding
	out = append(out, scriptSecurity(f)...)
	if f.ConfigFile != "" {
		if len(f.ConfigWarnings) == 0 {
			out = append(out, Finding{OK: true, What: fmt.Sprintf("%s: no password readable by others", f.ConfigFile)})
		}
		for _, w := range f.ConfigWarnings {
			out = append(out, Finding{What: w}) // the warning says what to do
		}
	}
	out = append(out, keepalivedAgrees(f)...)
	out = append(out, grants(f)...)
	out = append(out, answer(f)...)
	switch {
	case f.PeerURL == "":
	case f.PeerErr != nil:
		out = append(out, Finding{What: "the peer's hacheck does not answer: " + f.PeerErr.Error(),
			Fix: "start `hacheck serve` on the peer, or correct peer.url (drains need it)"})
	default:
		out = append(out, Finding{OK: true, What: "the peer's hacheck answers GET /status"})
	}
	return out
}

// Problems counts the findings that are not OK.
func Problems(fs []Finding) int {
	n := 0
	for _, f := range fs {
		if !f.OK {
			n++
		}
	}
	return n
}

// scriptSecurity: with enable_script_security, keepalived silently drops
// a script any of whose path components is not owned by root or is
// writable by group or other.
func scriptSecurity(f Facts) []Finding {
	if f.Binary == "" {
		return nil
	}
	var bad []string
	for _, p := range f.Path {
		switch {
		case p.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", p.Path, p.Err))
		case p.UID != 0:
			bad = append(bad, fmt.Sprintf("%s is owned by uid %d, not root", p.Path, p.UID))
		case p.Mode.Perm()&0o022 != 0:
			bad = append(bad, fmt.Sprintf("%s is writable by group or other (mode %04o)", p.Path, p.Mode.Perm()))
		}
	}
	if len(bad) > 0 {
		return []Finding{{What: fmt.Sprintf("%s fails keepalived's enable_script_security: %s", f.Binary, strings.Join(bad, "; ")),
			Fix: "chown root and chmod go-w each of them (keepalived silently drops the script otherwise)"}}
	}
	return []Finding{{OK: true, What: fmt.Sprintf("%s and every directory above it are root-owned and not writable by group or other", f.Binary)}}
}

// keepalivedAgrees: keepalived.conf watches this state_dir's track file,
// runs `hacheck check` with this configuration within a timeout above
// check_timeout, runs notify, keeps nopreempt, and priorities that do not
// wait (keepalived.Advise).
func keepalivedAgrees(f Facts) []Finding {
	if f.KeepalivedFile == "" {
		return nil
	}
	if f.KeepalivedErr != nil {
		return []Finding{{What: fmt.Sprintf("%s: %v", f.KeepalivedFile, f.KeepalivedErr), Fix: "point keepalived.config at keepalived's configuration, or set it to \"\""}}
	}
	k := f.Keepalived
	var out []Finding
	track := filepath.Join(f.StateDir, "keepalived.track")
	var files []string
	for _, p := range k.TrackFiles {
		files = append(files, p)
	}
	if slices.Contains(files, track) {
		out = append(out, Finding{OK: true, What: "keepalived watches " + track})
	} else {
		out = append(out, Finding{What: fmt.Sprintf("%s has no track_file on %s (it has %v): a drain does not move the VIP at once", f.KeepalivedFile, track, files),
			Fix: "set the track_file's file to state_dir/keepalived.track (see examples/keepalived.conf)"})
	}
	var check *keepalived.Script
	for _, sc := range k.Scripts {
		if _, ok := CheckScript(sc.Command); ok {
			check = &sc
		}
	}
	switch {
	case check == nil:
		out = append(out, Finding{What: f.KeepalivedFile + " runs no `hacheck check` vrrp_script: a failed check or a missing state does not move the VIP",
			Fix: "add the vrrp_script of examples/keepalived.conf and track it in the vrrp_instance"})
	default:
		var bad []string
		if f.ConfigFile != "" && !strings.Contains(" "+check.Command+" ", " --config "+f.ConfigFile+" ") {
			bad = append(bad, fmt.Sprintf("it runs %q, not with --config %s", check.Command, f.ConfigFile))
		}
		if check.Timeout <= f.CheckTimeout {
			bad = append(bad, fmt.Sprintf("its timeout %s is not above check_timeout %s (keepalived would kill the check first)", orDefault(check.Timeout), f.CheckTimeout))
		}
		if len(bad) > 0 {
			out = append(out, Finding{What: "the `hacheck check` vrrp_script: " + strings.Join(bad, "; "), Fix: "make the script run this configuration with a timeout above check_timeout"})
		} else {
			out = append(out, Finding{OK: true, What: fmt.Sprintf("keepalived runs %q with timeout %s (check_timeout %s)", check.Command, check.Timeout, f.CheckTimeout)})
		}
		if bin, _ := CheckScript(check.Command); filepath.Base(bin) == "hacheck-check" && !f.StateOnly {
			out = append(out, Finding{What: "the vrrp_script runs hacheck-check, which hands this configuration (live checks, a database or other settings) to hacheck check: two program starts on every poll",
				Fix: "run hacheck check --config ... in the vrrp_script (hacheck-check saves only on a state-only node)"})
		}
	}
	for _, in := range k.Instances {
		if f.Database != "" && !strings.Contains(in.Notify, " notify") {
			out = append(out, Finding{What: fmt.Sprintf("vrrp_instance %s has no `hacheck notify` notify script: the database is never promoted or fenced on a move", in.Name),
				Fix: "add notify \"/usr/sbin/hacheck notify --config ...\" to the instance"})
		}
		out = append(out, Finding{OK: true, What: fmt.Sprintf("vrrp_instance %s: priority %d, takes over after %s", in.Name, in.Priority, keepalived.SkewTime(in).Round(time.Millisecond))})
	}
	for _, a := range keepalived.Advise(k) {
		for _, w := range a.Warnings {
			out = append(out, Finding{What: w, Fix: "see the keepalived section of the README"})
		}
	}
	return out
}

// CheckScript reports whether a vrrp_script command runs hacheck's check,
// as `hacheck check ...` or `hacheck-check ...`, and names the program.
func CheckScript(command string) (binary string, ok bool) {
	words := strings.Fields(command)
	switch {
	case len(words) > 1 && words[1] == "check":
		return words[0], true
	case len(words) > 0 && filepath.Base(words[0]) == "hacheck-check":
		return words[0], true
	}
	return "", false
}

func orDefault(d time.Duration) string {
	if d == 0 {
		return "(keepalived's default, the interval)"
	}
	return d.String()
}

// needed are the MariaDB privileges each feature needs (the README's
// grants; each proven necessary by internal/db's tests).
func needed(f Facts) []string {
	p := []string{"SLAVE MONITOR", "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN"}
	if f.FenceKill {
		p = append(p, "PROCESS", "CONNECTION ADMIN")
	}
	return p
}

func grants(f Facts) []Finding {
	if f.Database == "" {
		return nil
	}
	if f.GrantsErr != nil {
		return []Finding{{What: fmt.Sprintf("%s: cannot read the account's grants: %v", f.Database, f.GrantsErr), Fix: "check mysql.dsn and that the server runs"}}
	}
	if slices.Contains(f.Grants, "ALL PRIVILEGES") {
		return []Finding{{What: fmt.Sprintf("%s has ALL PRIVILEGES: more than hacheck needs, and it can write while fenced", f.Database),
			Fix: "grant only " + strings.Join(needed(f), ", ") + " ON *.*"}}
	}
	have := map[string]bool{}
	for _, g := range f.Grants {
		have[g] = true
	}
	// MariaDB spells some privileges two ways.
	alias := map[string]string{"SLAVE MONITOR": "REPLICA MONITOR", "REPLICATION SLAVE ADMIN": "REPLICATION REPLICA ADMIN"}
	var missing []string
	for _, p := range needed(f) {
		if !have[p] && !have[alias[p]] && !have["SUPER"] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return []Finding{{What: fmt.Sprintf("%s lacks %s", f.Database, strings.Join(missing, ", ")),
			Fix: fmt.Sprintf("GRANT %s ON *.* TO the account (see the README's grants)", strings.Join(missing, ", "))}}
	}
	return []Finding{{OK: true, What: fmt.Sprintf("%s has the grants its features need (%s)", f.Database, strings.Join(needed(f), ", "))}}
}

// answer: with a VIP, the drain's answer step needs CAP_NET_ADMIN; a
// lease whose drain is gone keeps this node answering for the VIP.
func answer(f Facts) []Finding {
	var out []Finding
	switch {
	case f.AnswerFor <= 0 || !f.VIPConfigured: // the step does not apply
	case !f.NetAdmin:
		out = append(out, Finding{What: "this user lacks CAP_NET_ADMIN: a drain run like this goes without its answer step (clients with a stale ARP entry wait for their SYN retransmit)",
			Fix: "run `hacheck drain` as root (the admin API of a serve without the capability drains without it)"})
	default:
		out = append(out, Finding{OK: true, What: fmt.Sprintf("a drain answers for the VIP for %s after it leaves (CAP_NET_ADMIN held)", f.AnswerFor)})
	}
	if f.LeasePID != 0 && !f.LeaseAlive {
		out = append(out, Finding{What: fmt.Sprintf("an answer lease left by drain pid %d, which is gone: this node still answers TCP for the VIP", f.LeasePID),
			Fix: "run `hacheck undrain` as root (it ends the lease first)"})
	}
	return out
}
