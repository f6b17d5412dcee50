package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/state"
)

// HoldRequest is the body of POST /v1/hold and /v1/release on a peer's
// admin API: the node that drains (By) asks the peer to stay out of the
// election while the primary moves to For, for at most TTL (a Go
// duration; the peer computes the end with its own clock).
type HoldRequest struct {
	For    string `json:"for"`
	By     string `json:"by"`
	TTL    string `json:"ttl,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// HoldResponse is what both endpoints answer. Outcome: held, released,
// not_held, refused, error.
type HoldResponse struct {
	Outcome   string      `json:"outcome"`
	Node      string      `json:"node,omitempty"`
	Hold      *state.Hold `json:"hold,omitempty"`
	Confirmed string      `json:"confirmed,omitempty"` // how the hold was seen in effect
	Error     string      `json:"error,omitempty"`
}

// Hold asks the peer to hold itself (POST URL/v1/hold with Token) and
// returns once it has confirmed the hold is in effect; within ctx only
// (the peer's confirmation may take longer than Timeout).
func (c Client) Hold(ctx context.Context, req HoldRequest) (HoldResponse, error) {
	return c.post(ctx, "/v1/hold", req)
}

// Release asks the peer to drop the hold of req's move (POST URL/v1/release).
func (c Client) Release(ctx context.Context, req HoldRequest) (HoldResponse, error) {
	return c.post(ctx, "/v1/release", req)
}

func (c Client) post(ctx context.Context, path string, body any) (HoldResponse, error) {
	if c.URL == "" {
		return HoldResponse{}, ErrNotConfigured
	}
	u := strings.TrimRight(c.URL, "/") + path
	shown := redactURL(u)
	b, err := json.Marshal(body)
	if err != nil {
		return HoldResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return HoldResponse{}, fmt.Errorf("%s: %w", shown, unwrapURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return HoldResponse{}, fmt.Errorf("%s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return HoldResponse{}, fmt.Errorf("%s: read body: %w", shown, unwrapURLError(err))
	}
	var hr HoldResponse
	if jerr := json.Unmarshal(rb, &hr); jerr != nil {
		return HoldResponse{}, fmt.Errorf("%s: HTTP %d, not hacheck's answer (is admin.enabled set on that node?): %.200s", shown, resp.StatusCode, bytes.TrimSpace(rb))
	}
	if resp.StatusCode != http.StatusOK {
		msg := hr.Error
		if msg == "" {
			msg = hr.Outcome
		}
		return hr, fmt.Errorf("%s: HTTP %d: %s", shown, resp.StatusCode, msg)
	}
	return hr, nil
}

// ParseTTL reads a HoldRequest's TTL: a duration from 1s to MaxHoldTTL.
func ParseTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Second || d > MaxHoldTTL {
		return 0, fmt.Errorf("ttl %q is not a duration from 1s to %s", s, MaxHoldTTL)
	}
	return d, nil
}

// MaxHoldTTL bounds a hold's lease: no move may keep a node out longer.
const MaxHoldTTL = 10 * time.Minute
