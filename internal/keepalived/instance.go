package keepalived

import (
	"cmp"
	"errors"
	"fmt"
	"math"
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
	VRID      int    // virtual_router_id, 0 when not set
	Notify    string // the notify script's command line, "" when none
}

// Config is what hacheck reads of one keepalived.conf: the vrrp_instance
// blocks in file order, and the top-level track_file and vrrp_script
// blocks by name.
type Config struct {
	Instances  []Instance
	TrackFiles map[string]string // track_file NAME { file "PATH" }
	Scripts    map[string]Script // vrrp_script NAME { script "..."; timeout N }
}

// Script is a vrrp_script block.
type Script struct {
	Command string        // the script line, quotes removed, parameters substituted
	Timeout time.Duration // 0 when not set
}

// Parse reads the vrrp_instance blocks of a keepalived configuration text:
// priority, advert_int, version (or global_defs vrrp_version), nopreempt,
// state and virtual_router_id. It applies keepalived's "$NAME=value"
// parameter substitution and strips comments ("#" and "!"). It does not
// follow include directives and ignores conditional ("@id") lines. Values
// it cannot read are reported all at once, with the instances it could read.
func Parse(src string) (Config, error) {
	p := parser{params: map[string]string{}, cur: -1}
	p.cfg.TrackFiles, p.cfg.Scripts = map[string]string{}, map[string]Script{}
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
	block   string   // name of the open top-level track_file or vrrp_script
	version int      // global_defs vrrp_version, 0 when not set
}

func (p *parser) line(n int, raw string) {
	text := strings.TrimSpace(raw)
	if name, value, ok := paramDefinition(text); ok {
		p.params[name] = strings.TrimSpace(value)
		return
	}
	if j := strings.IndexAny(text, "#!"); j >= 0 {
		text = text[:j]
	}
	if strings.HasPrefix(text, "@") {
		return
	}
	var f []string
	for _, tok := range tokens(text) {
		if strings.Contains(tok, "$") && tok != "{" && tok != "}" {
			f = append(f, strings.Fields(p.substitute(tok))...)
		} else {
			f = append(f, tok)
		}
	}
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
	if len(p.stack) == 0 && (name == "track_file" || name == "vrrp_script") && len(p.last) > 1 {
		p.block = p.last[1]
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
		p.cur, p.block = -1, ""
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
	unquoted := strings.Trim(strings.Join(words[1:], " "), `"`)
	switch {
	case p.stack[0] == "track_file" && key == "file" && p.block != "":
		p.cfg.TrackFiles[p.block] = unquoted
		return
	case p.stack[0] == "vrrp_script" && p.block != "":
		sc := p.cfg.Scripts[p.block]
		switch key {
		case "script":
			sc.Command = unquoted
		case "timeout":
			v, err := strconv.ParseFloat(arg, 64)
			if err != nil || v <= 0 {
				fail("vrrp_script %s: timeout %q: want seconds", p.block, arg)
				return
			}
			sc.Timeout = time.Duration(math.Round(v*1e3)) * time.Millisecond
		}
		p.cfg.Scripts[p.block] = sc
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
	case "notify":
		in.Notify = unquoted
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

// paramDefinition reads a "$NAME=value" line.
func paramDefinition(text string) (name, value string, ok bool) {
	if !strings.HasPrefix(text, "$") {
		return "", "", false
	}
	name, value, ok = strings.Cut(text[1:], "=")
	if !ok || !isName(name) {
		return "", "", false
	}
	return name, value, true
}

func isName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// tokens splits a line into words and the braces "{" and "}", except the
// braces of a ${NAME} use.
func tokens(text string) []string {
	var out []string
	word := -1 // start of the current word
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '$' && i+1 < len(text) && text[i+1] == '{':
			if j := strings.IndexByte(text[i:], '}'); j > 0 {
				if word < 0 {
					word = i
				}
				i += j
				continue
			}
		case c == '{' || c == '}' || c == ' ' || c == '\t':
			if word >= 0 {
				out = append(out, text[word:i])
				word = -1
			}
			if c == '{' || c == '}' {
				out = append(out, text[i:i+1])
			}
			continue
		}
		if word < 0 {
			word = i
		}
	}
	if word >= 0 {
		out = append(out, text[word:])
	}
	return out
}

// substitute replaces the defined parameters in one word: ${NAME}
// anywhere, $NAME only at the end of the word (keepalived replaces the
// bare form only before whitespace). An undefined use stays as written, as
// keepalived leaves it.
func (p *parser) substitute(tok string) string {
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		if tok[i] != '$' {
			b.WriteByte(tok[i])
			continue
		}
		rest := tok[i+1:]
		if strings.HasPrefix(rest, "{") {
			if j := strings.IndexByte(rest, '}'); j > 0 {
				if v, ok := p.params[rest[1:j]]; ok && isName(rest[1:j]) {
					b.WriteString(v)
					i += j + 1
					continue
				}
			}
		} else if v, ok := p.params[rest]; ok && isName(rest) {
			b.WriteString(v)
			break
		}
		b.WriteByte('$')
	}
	return b.String()
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
