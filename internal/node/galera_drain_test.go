package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/config"
)

func TestGaleraTransition(t *testing.T) {
	f := filepath.Join(t.TempDir(), "hacheck.yaml")
	os.WriteFile(f, []byte("node: a\ngalera: {transition_period: 20ms}\nchecks: [{name: g, type: galera, dsn: 'm:x@tcp(192.0.2.21:3306)/'}]\n"), 0o600)
	cfg, err := config.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	galeraTransition(context.Background(), cfg.Galera, &out)
	if !strings.Contains(out.String(), "can be stopped now") {
		t.Errorf("after the wait: %q", out.String())
	}

	out.Reset()
	cfg.Galera.TransitionPeriod = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	galeraTransition(ctx, cfg.Galera, &out)
	if !strings.Contains(out.String(), "the node IS drained, but wait 1h0m0s") {
		t.Errorf("interrupted: %q", out.String())
	}

	out.Reset()
	galeraTransition(context.Background(), config.Galera{}, &out)
	if out.Len() != 0 {
		t.Errorf("not a Galera node: %q", out.String())
	}
}
