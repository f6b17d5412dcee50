// Package keepalived reads what hacheck needs to know of a keepalived
// configuration file. It parses only the keywords it names; it never
// validates a configuration (keepalived -t does that).
package keepalived

import "strings"

// HasNopreempt reports whether a keepalived configuration text has a
// nopreempt keyword outside comments.
func HasNopreempt(conf string) bool {
	for _, line := range strings.Split(conf, "\n") {
		if i := strings.IndexAny(line, "#!"); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			if f == "nopreempt" {
				return true
			}
		}
	}
	return false
}
