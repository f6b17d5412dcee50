package check

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTP passes when a GET of URL answers with a 2xx status. Redirects are
// not followed: a health URL that redirects is misconfigured.
type HTTP struct {
	CheckName string
	URL       string
	Client    *http.Client // nil: a client without keep-alives
}

var _ Checker = (*HTTP)(nil)

var noRedirectClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
}

func (c *HTTP) Name() string { return c.CheckName }

func (c *HTTP) Check(ctx context.Context) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return Result{Detail: fmt.Sprintf("request %s: %v", c.URL, err)}
	}
	client := c.Client
	if client == nil {
		client = noRedirectClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{Detail: fmt.Sprintf("GET %s: %v", c.URL, err)}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{Detail: fmt.Sprintf("GET %s: status %s, want 2xx", c.URL, resp.Status)}
	}
	return Result{OK: true, Detail: fmt.Sprintf("GET %s: %s", c.URL, resp.Status)}
}
