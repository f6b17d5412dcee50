package cutover

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

	"github.com/hacheck/hacheck/check"
	hamysql "github.com/hacheck/hacheck/check/mysql"
)

// PeerStatus is the part of the peer's GET /status that cutover reads.
type PeerStatus struct {
	Node    string `json:"node"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason"`
	State   *struct {
		State string `json:"state"`
	} `json:"state"`
	VIP *struct {
		Held  bool   `json:"held"`
		Error string `json:"error"`
	} `json:"vip"`
}

// StateName is the peer's state ("up", "drained"), or "" when unknown.
func (p PeerStatus) StateName() string {
	if p.State == nil {
		return ""
	}
	return p.State.State
}

// HoldsVIP reports whether the peer says it holds the VIP; known is false
// when it has no VIP configured or could not read it.
func (p PeerStatus) HoldsVIP() (held, known bool) {
	if p.VIP == nil || p.VIP.Error != "" {
		return false, false
	}
	return p.VIP.Held, true
}

// FetchPeer reads baseURL/status within timeout (and ctx). A 503 answer
// (peer not healthy) still carries the report and is not an error. Errors
// name the URL without its userinfo (peer.url may carry credentials).
func FetchPeer(ctx context.Context, baseURL string, timeout time.Duration) (PeerStatus, error) {
	if baseURL == "" {
		return PeerStatus{}, fmt.Errorf("peer.url is not set")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	u := strings.TrimRight(baseURL, "/") + "/status"
	shown := redactURL(u)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return PeerStatus{}, fmt.Errorf("peer status %s: %w", shown, unwrapURLError(err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return PeerStatus{}, fmt.Errorf("peer status %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return PeerStatus{}, fmt.Errorf("peer status %s: read body: %w", shown, unwrapURLError(err))
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return PeerStatus{}, fmt.Errorf("peer status %s: HTTP %d", shown, resp.StatusCode)
	}
	var ps PeerStatus
	if err := json.Unmarshal(body, &ps); err != nil {
		return PeerStatus{}, fmt.Errorf("peer status %s: not hacheck's status JSON: %w", shown, err)
	}
	return ps, nil
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

// PeerFacts is what PeerReady gathered; EvaluatePeer judges it.
type PeerFacts struct {
	Status    PeerStatus
	StatusErr error
	LocalID   uint32
	LocalErr  error
	Replica   *hamysql.ReplicaStatus
	ReplicaEr error
	PeerDSN   string
}

// EvaluatePeer decides whether the peer is ready to take over: its hacheck
// is up and healthy, and its server is a healthy GTID replica of this one.
// Every failed condition is listed.
func EvaluatePeer(f PeerFacts) (ok bool, detail string) {
	var bad, good []string
	switch {
	case f.StatusErr != nil:
		bad = append(bad, fmt.Sprintf("peer hacheck: %v", f.StatusErr))
	case f.Status.StateName() != "up":
		bad = append(bad, fmt.Sprintf("peer hacheck %s is %q, not up: %s", f.Status.Node, f.Status.StateName(), f.Status.Reason))
	case !f.Status.Healthy:
		bad = append(bad, fmt.Sprintf("peer hacheck %s is up but not healthy: %s", f.Status.Node, f.Status.Reason))
	default:
		good = append(good, fmt.Sprintf("peer hacheck %s is up and healthy", f.Status.Node))
	}
	switch {
	case f.LocalErr != nil:
		bad = append(bad, fmt.Sprintf("this server: %v", f.LocalErr))
	case f.ReplicaEr != nil:
		bad = append(bad, fmt.Sprintf("peer server: %v", f.ReplicaEr))
	default:
		rok, rdetail := hamysql.EvaluateReplica(f.Replica, hamysql.ReplicaPolicy{})
		switch {
		case !rok:
			bad = append(bad, fmt.Sprintf("peer server %s: %s", f.PeerDSN, rdetail))
		case f.Replica.SourceServerID != f.LocalID:
			bad = append(bad, fmt.Sprintf("peer server %s replicates from server_id %d (%s), not from this server (server_id %d)",
				f.PeerDSN, f.Replica.SourceServerID, f.Replica.Source(), f.LocalID))
		default:
			good = append(good, fmt.Sprintf("peer server %s replicates from this server (server_id %d), IO and SQL threads running", f.PeerDSN, f.LocalID))
		}
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	return true, strings.Join(good, "; ")
}

// PeerReady is the drain precondition "the peer can take over".
type PeerReady struct {
	Local   DB
	Peer    DB // nil: peer.mysql_dsn is not set
	URL     string
	Timeout time.Duration // bounds the HTTP call (peer.timeout)
	// QueryTimeout bounds each of the two database reads (mysql.query_timeout).
	QueryTimeout time.Duration
}

var _ check.Precondition = (*PeerReady)(nil)

func (p *PeerReady) Name() string { return "peer-ready" }

func (p *PeerReady) Run(ctx context.Context, out io.Writer) check.Result {
	if p.Peer == nil {
		return check.Result{Detail: "peer.mysql_dsn is not set: cannot verify that the peer replicates from this server (set it, or drain --force)"}
	}
	if p.URL == "" {
		return check.Result{Detail: "peer.url is not set: cannot verify that the peer's hacheck is up (set it, or drain --force)"}
	}
	f := PeerFacts{PeerDSN: p.Peer.String()}
	f.Status, f.StatusErr = FetchPeer(ctx, p.URL, p.Timeout)
	qctx, cancel := withTimeout(ctx, p.QueryTimeout)
	f.LocalID, f.LocalErr = p.Local.ServerID(qctx)
	cancel()
	qctx, cancel = withTimeout(ctx, p.QueryTimeout)
	f.Replica, f.ReplicaEr = p.Peer.ReplicaStatus(qctx)
	cancel()
	ok, detail := EvaluatePeer(f)
	return check.Result{OK: ok, Detail: detail}
}
