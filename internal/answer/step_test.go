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
	for _, held := range []func() (bool, error){
		func() (bool, error) { return false, nil },
		func() (bool, error) { return false, errors.New("netlink: permission denied") },
	} {
		dir := t.TempDir()
		s := &answer.Step{Dir: dir, Addr: netip.MustParseAddr("192.0.2.100"), Interface: "eth0", Hold: 1, Held: held}
		var out bytes.Buffer
		if err := s.Do(context.Background(), &out); err != nil || s.Active() || !strings.Contains(out.String(), "does not hold it") {
			t.Fatalf("Do = %v, active %v, output %q", err, s.Active(), out.String())
		}
		if _, err := os.Stat(filepath.Join(dir, answer.LeaseName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("lease file: %v", err)
		}
	}
}
