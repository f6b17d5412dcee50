package lab

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
)

var (
	// A definition line: optional leading blanks, "$NAME=value".
	paramDef = regexp.MustCompile(`^(\s*)\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	// A use: ${NAME} anywhere, or $NAME followed by whitespace or the end of
	// the line (keepalived only replaces the bare form before whitespace).
	paramUse = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)(?:\s|$)`)
)

// RenderKeepalivedConf returns src (examples/keepalived.conf) with the value
// of each "$NAME=value" definition line named in params replaced, which is
// exactly what an operator does by hand on each node. It fails when params
// names a parameter that src does not define, or when src uses a parameter
// it never defines: keepalived silently leaves an undefined ${NAME} in place,
// so a typo would otherwise only show up as a strange runtime value.
func RenderKeepalivedConf(src []byte, params map[string]string) ([]byte, error) {
	var out bytes.Buffer
	defined := map[string]bool{}
	var used []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if m := paramDef.FindStringSubmatch(text); m != nil {
			name := m[2]
			defined[name] = true
			if v, ok := params[name]; ok {
				if strings.ContainsAny(v, "\r\n") {
					return nil, fmt.Errorf("render keepalived.conf: value of %s contains a line break", name)
				}
				text = m[1] + "$" + name + "=" + v
			}
		} else if !isComment(text) {
			for _, m := range paramUse.FindAllStringSubmatch(text, -1) {
				name := m[1] + m[2]
				if !strings.HasPrefix(name, "_") { // keepalived's own names
					used = append(used, fmt.Sprintf("%s (line %d)", name, line))
				}
			}
		}
		out.WriteString(text)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("render keepalived.conf: %w", err)
	}
	var problems []error
	for _, name := range sortedKeys(params) {
		if !defined[name] {
			problems = append(problems, fmt.Errorf("parameter %s is not defined in the file", name))
		}
	}
	for _, u := range used {
		name, _, _ := strings.Cut(u, " ")
		if !defined[name] {
			problems = append(problems, fmt.Errorf("parameter %s is used but never defined", u))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("render keepalived.conf: %w", errors.Join(problems...))
	}
	return out.Bytes(), nil
}

func isComment(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "#") || strings.HasPrefix(t, "!")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CheckScriptSecurity reports whether keepalived's enable_script_security
// would accept path as a script: the file and every directory above it must
// be owned by root and not writable by group or other. keepalived does not
// fail on a violation, it silently disables the script (and `keepalived -t`
// does not check this at all), so the lab checks it itself.
func CheckScriptSecurity(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("script security of %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("script security of %s: %w", path, err)
	}
	for p := real; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("script security of %s: %w", path, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("script security of %s: no owner information for %s", path, p)
		}
		if st.Uid != 0 {
			return fmt.Errorf("script security of %s: %s is owned by uid %d, not root", path, p, st.Uid)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("script security of %s: %s is writable by group or other (%v)", path, p, fi.Mode().Perm())
		}
		if p == "/" {
			return nil
		}
	}
}

// ThreeUnicastParams are the unicast definitions of
// examples/keepalived-three-unicast.conf for a node of a three-node lab:
// its own address as the source, the other two keepalived nodes' as its
// peers (in the order a, b, d). Use it as Config.KeepalivedParams.
func ThreeUnicastParams(n *Node) map[string]string {
	p := map[string]string{"UNICAST_SRC_IP": n.Addr.Addr().String()}
	i := 1
	for _, a := range []netip.Prefix{AddrA, AddrB, AddrD} {
		if a != n.Addr {
			p[fmt.Sprintf("UNICAST_PEER%d", i)] = a.Addr().String()
			i++
		}
	}
	return p
}
