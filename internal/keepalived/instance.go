package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults keepalived applies when a vrrp_instance does not say.
const (
	DefaultPriority  = 100
	DefaultAdvertInt = time.Second
	DefaultVersion   = 2
	// MaxSkew is the longest skew time hacheck accepts without a warning:
	// the node that takes over after the master's priority-0 advert waits
	// this long doing nothing, on every drain.
	MaxSkew = 50 * time.Millisecond
	// OwnerPriority is reserved by VRRP for the owner of the address.
	OwnerPriority = 255
)

// Instance is what hacheck reads of one vrrp_instance block.
type Instance struct {
	Name      string
	Line      int    // line of the vrrp_instance keyword
	State     string // initial state as written (MASTER, BACKUP), "" when not set
	Priority  int
	AdvertInt time.Duration // as configured
	Version   int           // 2 or 3: the instance's version, else global_defs vrrp_version, else 2
	Nopreempt bool
	VRID      int // virtual_router_id, 0 when not set
}

// Config is the vrrp_instance blocks of one keepalived.conf, in file order.
type Config struct {
	Instances []Instance
}

var (
	paramDef = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	paramUse = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(\s|$)`)
	// An undefined ${NAME} after the braces were spaced out (see line).
	undefinedUse = regexp.MustCompile("\\$\x01([A-Za-z0-9_]*) } ")
)

// Parse reads the vrrp_instance blocks of a keepalived configuration text:
// priority, advert_int, version (or global_defs vrrp_version), nopreempt,
// state and virtual_router_id. It applies keepalived's "$NAME=value"
// parameter substitution and strips comments ("#" and "!"). It does not
// follow include directives and ignores conditional ("@id") lines. Values
// it cannot read are reported all at once, with the instances it could read.
func Parse(src string) (Config, error) {
	p := parser{params: map[string]string{}, cur: -1}
	for i, raw := range strings.Split(src, "\n") {
		p.line(i+1, raw)
	}
	for i := range p.cfg.Instances {
		in := &p.cfg.Instances[i]
		if in.Version == 0 {
			in.Version = cmp.Or(p.version, DefaultVersion)
		}
	}
	return p.cfg, errors.Join(p.errs...)
}

type parser struct {
	cfg     Config
	errs    []error
	params  map[string]string
	stack   []string // keyword of each open block
	last    []string // the statement before a "{": the block's header
	lastAt  int      // its line
	cur     int      // index of the open vrrp_instance, -1 when none
	version int      // global_defs vrrp_version, 0 when not set
}

func (p *parser) line(n int, raw string) {
	text := strings.TrimSpace(raw)
	if m := paramDef.FindStringSubmatch(text); m != nil {
		p.params[m[1]] = strings.TrimSpace(m[2])
		return
	}
	if j := strings.IndexAny(text, "#!"); j >= 0 {
		text = text[:j]
	}
	if strings.HasPrefix(text, "@") {
		return
	}
	text = paramUse.ReplaceAllStringFunc(text, func(u string) string {
		m := paramUse.FindStringSubmatch(u)
		if v, ok := p.params[m[1]+m[2]]; ok {
			return v + m[3]
		}
		return u
	})
	// An undefined ${NAME} stays as written (as keepalived leaves it): keep
	// its braces out of the block structure.
	text = strings.ReplaceAll(text, "${", "$\x01")
	text = strings.NewReplacer("{", " { ", "}", " } ").Replace(text)
	text = undefinedUse.ReplaceAllString(text, "$${$1}")
	text = strings.ReplaceAll(text, "$\x01", "${")
	f := strings.Fields(text)
	for len(f) > 0 {
		k := 0
		for k < len(f) && f[k] != "{" && f[k] != "}" {
			k++
		}
		if k > 0 {
			p.last, p.lastAt = f[:k], n
			p.statement(f[:k], n)
		}
		if k == len(f) {
			return
		}
		if f[k] == "{" {
			p.open(n)
		} else {
			p.close()
		}
		f = f[k+1:]
	}
}

// open starts a block whose header is the last statement (on this line or
// the one before: keepalived accepts the brace on its own line).
func (p *parser) open(n int) {
	name := ""
	if len(p.last) > 0 {
		name = p.last[0]
	}
	if len(p.stack) == 0 && name == "vrrp_instance" {
		in := Instance{Line: p.lastAt, Priority: DefaultPriority, AdvertInt: DefaultAdvertInt}
		if len(p.last) > 1 {
			in.Name = p.last[1]
		}
		p.cfg.Instances = append(p.cfg.Instances, in)
		p.cur = len(p.cfg.Instances) - 1
	}
	p.stack = append(p.stack, name)
	p.last = nil
}

func (p *parser) close() {
	p.last = nil
	if len(p.stack) == 0 {
		return
	}
	p.stack = p.stack[:len(p.stack)-1]
	if len(p.stack) == 0 {
		p.cur = -1
	}
}

func (p *parser) statement(words []string, line int) {
	key, arg := words[0], ""
	if len(words) > 1 {
		arg = words[1]
	}
	fail := func(format string, a ...any) {
		p.errs = append(p.errs, fmt.Errorf("line %d: "+format, append([]any{line}, a...)...))
	}
	if len(p.stack) != 1 {
		return
	}
	if p.stack[0] == "global_defs" && key == "vrrp_version" {
		v, err := readVersion(arg)
		if err != nil {
			fail("vrrp_version: %v", err)
			return
		}
		p.version = v
		return
	}
	if p.stack[0] != "vrrp_instance" || p.cur < 0 {
		return
	}
	in := &p.cfg.Instances[p.cur]
	switch key {
	case "priority":
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 || v > 255 {
			fail("vrrp_instance %s: priority %q: want 1-255", in.Name, arg)
			return
		}
		in.Priority = v
	case "advert_int":
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(v > 0 && v <= 255) {
			fail("vrrp_instance %s: advert_int %q: want seconds, e.g. 1 or 0.1", in.Name, arg)
			return
		}
		in.AdvertInt = time.Duration(math.Round(v*1e6)) * time.Microsecond
	case "version":
		v, err := readVersion(arg)
		if err != nil {
			fail("vrrp_instance %s: version: %v", in.Name, err)
			return
		}
		in.Version = v
	case "nopreempt":
		in.Nopreempt = true
	case "preempt":
		in.Nopreempt = false
	case "state":
		in.State = strings.ToUpper(arg)
	case "virtual_router_id":
		v, err := strconv.Atoi(arg)
		if err != nil || v < 1 || v > 255 {
			fail("vrrp_instance %s: virtual_router_id %q: want 1-255", in.Name, arg)
			return
		}
		in.VRID = v
	}
}

func readVersion(s string) (int, error) {
	switch s {
	case "2":
		return 2, nil
	case "3":
		return 3, nil
	}
	return 0, fmt.Errorf("%q: want 2 or 3", s)
}
