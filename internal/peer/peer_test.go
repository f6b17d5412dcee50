package peer

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/health"
	"github.com/hacheck/hacheck/internal/state"
	"github.com/hacheck/hacheck/vip"
)

// The client decodes exactly what /status encodes: a health.Report.
func TestStatusDecodesTheReport(t *testing.T) {
	st := state.State{Version: state.Version, State: state.Up, Generation: 7, ChangedBy: "test", ChangedAt: time.Now().UTC()}
	v := &vip.Status{Address: netip.MustParsePrefix("192.0.2.100/24"), Interface: "eth0", Held: true}
	sent := health.NewReport("b", st, nil, nil, v)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable) // a 503 still carries the report
		json.NewEncoder(w).Encode(sent)
	}))
	defer srv.Close()
	got, err := Client{URL: srv.URL + "/", Timeout: 2 * time.Second}.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != "b" || got.StateName() != "up" || got.State.Generation != 7 {
		t.Errorf("decoded %+v", got)
	}
	if held, known := got.HoldsVIP(); !held || !known {
		t.Errorf("HoldsVIP = %v, %v", held, known)
	}
	if _, err := (Client{}).Status(context.Background()); err != ErrNotConfigured {
		t.Errorf("no URL: %v", err)
	}
}

// Verdict asks for the brief report; a peer that ignores the query (an
// older serve) answers the full one, whose verdict is the same.
func TestVerdictAsksForTheBriefReport(t *testing.T) {
	st := state.State{Version: state.Version, State: state.Up, ChangedAt: time.Now().UTC()}
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.RequestURI())
		json.NewEncoder(w).Encode(health.NewReport("b", st, nil, nil, nil))
	}))
	defer srv.Close()
	got, err := Client{URL: srv.URL, Timeout: 2 * time.Second}.Verdict(context.Background())
	if err != nil || got.Node != "b" || !got.Healthy || got.StateName() != "up" {
		t.Fatalf("Verdict = %+v, %v", got, err)
	}
	if len(asked) != 1 || asked[0] != "/status?brief=1" {
		t.Errorf("Verdict asked for %q, want /status?brief=1", asked)
	}
}

// Status's errors name the peer without the credentials of peer.url.
func TestStatusRedactsUserinfo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer bad.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "not json") }))
	defer garbage.Close()
	withUser := func(base string) string { return strings.Replace(base, "http://", "http://hcuser:pw-s3cret@", 1) }
	for _, u := range []string{
		withUser("http://" + closed),          // connection refused
		withUser(bad.URL),                     // HTTP 500
		withUser(garbage.URL),                 // not the status JSON
		"http://hcuser:pw-s3cret@bad host:1/", // does not parse
	} {
		_, err := Client{URL: u, Timeout: 2 * time.Second}.Status(context.Background())
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		if msg := err.Error(); strings.Contains(msg, "pw-s3cret") || strings.Contains(msg, "hcuser") {
			t.Errorf("error shows the credentials: %s", msg)
		}
	}
}
