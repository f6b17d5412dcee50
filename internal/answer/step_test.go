package answer_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hacheck/hacheck/internal/answer"
)

// Draining a node that does not hold the VIP (or cannot tell) begins no
// lease: there is no departure to answer for.
func TestStepWithoutTheVIPBeginsNoLease(t *testing.T) {
	for want, held := range map[string]func() (bool, error){
		"this node does not hold it":                 func() (bool, error) { return false, nil },
		"whether this node holds it is unknown (net": func() (bool, error) { return false, errors.New("netlink: permission denied") },
	} {
		dir := t.TempDir()
		s := &answer.Step{Dir: dir, Addr: netip.MustParseAddr("192.0.2.100"), Interface: "eth0", Hold: 1, Held: held}
		var out bytes.Buffer
		if err := s.Do(context.Background(), &out); err != nil || s.Active() || !strings.Contains(out.String(), want) {
			t.Fatalf("Do = %v, active %v, output %q", err, s.Active(), out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, answer.LeaseName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("lease file: %v", err)
		}
	}
}
