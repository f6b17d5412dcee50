package config

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// sources says where each setting came from, so that an error names the
// place to fix: the environment variable that set it, or the file and
// line, or nothing (a default).
type sources struct {
	file  string
	lines map[string]int // "vip.address", "checks[0].type" -> line
}

func loadSources(file string) sources {
	s := sources{file: file, lines: map[string]int{}}
	if file == "" {
		return s
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return s
	}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return s
	}
	s.walk("", doc.Content[0])
	return s
}

func (s sources) walk(prefix string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := strings.ToLower(n.Content[i].Value)
			if prefix != "" {
				k = prefix + "." + k
			}
			s.lines[k] = n.Content[i].Line
			s.walk(k, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", prefix, i)
			s.lines[k] = c.Line
			s.walk(k, c)
		}
	}
}

// envName is the environment variable that overrides key.
func envName(key string) string {
	return "HACHECK_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// checkLabel matches the " (name)" that check errors add after checks[i].
var checkLabel = regexp.MustCompile(` \([^)]*\)`)

// of names where key was set: "environment HACHECK_X", "FILE:LINE", or "".
func (s sources) of(key string) string {
	plain := checkLabel.ReplaceAllString(key, "")
	if !strings.HasPrefix(plain, "checks") && !strings.HasPrefix(plain, "peers") {
		if _, ok := os.LookupEnv(envName(plain)); ok {
			return "environment " + envName(plain)
		}
	}
	for k := plain; k != ""; {
		if line, ok := s.lines[k]; ok {
			return fmt.Sprintf("%s:%d", s.file, line)
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return ""
}

// unknownKeyHint says what to write instead of an unknown key: the
// nearest known key, or, for a section written as a plain value (vip:
// 192.0.2.100/24), its keys.
func unknownKeyHint(key string, known []string) string {
	var section []string
	for _, k := range known {
		if strings.HasPrefix(k, key+".") {
			section = append(section, strings.TrimPrefix(k, key+"."))
		}
	}
	if len(section) > 0 {
		sort.Strings(section)
		return fmt.Sprintf("%s is a section, not a value: write it as a mapping with %s (e.g. %s: {%s: ...})", key, strings.Join(section, ", "), key, section[0])
	}
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= max(2, len(key)/3) {
		return fmt.Sprintf("unknown setting; did you mean %s?", best)
	}
	prefix := ""
	if i := strings.LastIndex(key, "."); i >= 0 {
		prefix = key[:i+1]
	}
	var same []string
	for _, k := range known {
		if prefix != "" && strings.HasPrefix(k, prefix) || prefix == "" && !strings.Contains(k, ".") {
			same = append(same, k)
		}
	}
	return fmt.Sprintf("unknown setting (settings here: %s)", strings.Join(same, ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlLine finds the line number in a YAML syntax error.
var yamlLine = regexp.MustCompile(`yaml: line (\d+): (.*)`)

// yamlError reports a YAML syntax error as FILE:LINE: what, naming the
// line the parser stopped at (a quote or an indentation opened above it
// may be the cause).
func yamlError(file string, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("config file %s: %w", file, err)
	}
	return fmt.Errorf("%s:%s: not valid YAML: %s (look at this line and the lines just above it: an unclosed quote or a wrong indentation)", file, m[1], m[2])
}
