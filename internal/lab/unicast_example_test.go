package lab_test

import (
	"os"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

// UnicastParams are the unicast definitions of
// examples/keepalived-unicast.conf for a lab node: its own address as the
// source, the other node's as the peer.
func unicastParams(l *lab.Lab) func(n *lab.Node) map[string]string {
	return func(n *lab.Node) map[string]string {
		peer := l.B
		if n == l.B {
			peer = l.A
		}
		return map[string]string{"UNICAST_SRC_IP": n.Addr.Addr().String(), "UNICAST_PEER": peer.Addr.Addr().String()}
	}
}

// configLines are the non-comment lines of a keepalived.conf, blanks
// collapsed.
func configLines(src []byte) []string {
	var conf []string
	for _, line := range strings.Split(string(src), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") && !strings.HasPrefix(f[0], "!") {
			conf = append(conf, strings.Join(f, " "))
		}
	}
	return conf
}

// TestUnicastExampleContract: the unicast example is the multicast one plus
// the unicast lines, and nothing else, so a fix to one that misses the
// other fails here.
func TestUnicastExampleContract(t *testing.T) {
	path, err := lab.RepoFile("examples/keepalived-unicast.conf")
	if err != nil {
		t.Fatal(err)
	}
	uni, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unicastOnly := map[string]bool{
		"$UNICAST_SRC_IP=192.0.2.11":       true,
		"$UNICAST_PEER=192.0.2.12":         true,
		"unicast_src_ip ${UNICAST_SRC_IP}": true,
		"unicast_peer {":                   true,
		"${UNICAST_PEER}":                  true,
	}
	assertUnicastOf(t, "examples/keepalived-unicast.conf", uni, "examples/keepalived.conf", readExample(t), unicastOnly, "${UNICAST_PEER}")
}

// assertUnicastOf checks that the unicast example uni (called name) has
// every line of unicastOnly and, without them and the "}" after
// lastPeer (which closes unicast_peer), is base (called baseName) line for
// line, comments aside.
func assertUnicastOf(t *testing.T, name string, uni []byte, baseName string, base []byte, unicastOnly map[string]bool, lastPeer string) {
	t.Helper()
	var rest, seen []string
	lines := configLines(uni)
	for i, line := range lines {
		if unicastOnly[line] {
			seen = append(seen, line)
			continue
		}
		if line == "}" && i > 0 && lines[i-1] == lastPeer {
			continue // closes unicast_peer
		}
		rest = append(rest, line)
	}
	if len(seen) != len(unicastOnly) {
		t.Errorf("%s has %d of the %d unicast lines: %q", name, len(seen), len(unicastOnly), seen)
	}
	if got, want := strings.Join(rest, "\n"), strings.Join(configLines(base), "\n"); got != want {
		t.Errorf("%s without its unicast lines differs from %s:\n%s\n---\n%s", name, baseName, got, want)
	}
}

// TestUnicastExampleValid has keepalived itself validate the unicast
// example rendered for node A and node B.
func TestUnicastExampleValid(t *testing.T) {
	labtest.Require(t)
	path, err := lab.RepoFile("examples/keepalived-unicast.conf")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("/run", "hacheck-unicast-example-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	l, err := lab.Layout(base, "unicast")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Pair() {
		if out, err := validateRendered(t, n, src, unicastParams(l)(n)); err != nil {
			t.Errorf("keepalived -t rejects the unicast example rendered for node %s: %v\n%s", n.Name, err, out)
		}
	}
}
