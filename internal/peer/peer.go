// Package peer is the client for the other node's hacheck: it reads the
// peer's GET /status into the same health.Report that the peer encoded.
package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hacheck/hacheck/internal/health"
)

// ErrNotConfigured is returned by Status when peer.url is not set.
var ErrNotConfigured = errors.New("peer.url is not set")

// Client reads the peer's status. The zero value (no URL) answers
// ErrNotConfigured.
type Client struct {
	URL     string        // peer.url: the peer's hacheck base URL
	Timeout time.Duration // peer.timeout: bounds each call within its context
	// Token is the bearer token sent to the peer's admin API (Hold,
	// Release): this node's own admin.token_file, the same on every node.
	Token string
}

// maxBody bounds what is read of the peer's answer.
const maxBody = 1 << 20

// Status reads URL/status within Timeout (and ctx). A 503 answer (peer not
// healthy) still carries the report and is not an error. Errors name the
// URL without its userinfo (peer.url may carry credentials).
func (c Client) Status(ctx context.Context) (health.Report, error) {
	return c.status(ctx, "/status")
}

// Verdict is Status with only the peer's verdict (node, state, healthy,
// reason, checks): GET /status?brief=1, which skips the reads of the VIP,
// the database, the drain and keepalived on the peer. A peer without it
// answers the full report, which holds the same verdict.
func (c Client) Verdict(ctx context.Context) (health.Report, error) {
	return c.status(ctx, "/status?brief=1")
}

func (c Client) status(ctx context.Context, path string) (health.Report, error) {
	if c.URL == "" {
		return health.Report{}, ErrNotConfigured
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	u := strings.TrimRight(c.URL, "/") + path
	shown := redactURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return health.Report{}, fmt.Errorf("peer status %s: %w", shown, unwrapURLError(err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return health.Report{}, fmt.Errorf("peer status %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return health.Report{}, fmt.Errorf("peer status %s: read body: %w", shown, unwrapURLError(err))
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return health.Report{}, fmt.Errorf("peer status %s: HTTP %d", shown, resp.StatusCode)
	}
	var rep health.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return health.Report{}, fmt.Errorf("peer status %s: not hacheck's status JSON: %w", shown, err)
	}
	return rep, nil
}

// redactURL is s without its userinfo, for messages; a URL that does not
// parse is not shown at all (its text could hold the password).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(peer.url, unparsable)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the URL
// (net/http masks only the password, url.Parse nothing).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
