package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/config"
)

func TestGaleraTransition(t *testing.T) {
	cfg := &config.Config{Galera: config.Galera{DSN: "m:x@tcp(192.0.2.21:3306)/", TransitionPeriod: 20 * time.Millisecond}}
	var out bytes.Buffer
	a := &app{stdout: &out}
	a.galeraTransition(context.Background(), cfg)
	if !strings.Contains(out.String(), "can be stopped now") {
		t.Errorf("after the wait: %q", out.String())
	}

	out.Reset()
	cfg.Galera.TransitionPeriod = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.galeraTransition(ctx, cfg)
	if !strings.Contains(out.String(), "the node IS drained, but wait 1h0m0s") {
		t.Errorf("interrupted: %q", out.String())
	}

	out.Reset()
	a.galeraTransition(context.Background(), &config.Config{})
	if out.Len() != 0 {
		t.Errorf("not a Galera node: %q", out.String())
	}
}
