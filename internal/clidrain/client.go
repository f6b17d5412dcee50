package clidrain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// answerTimeout bounds the wait for serve's first answer: serve answers
// before it starts the drain, so a serve that does not answer in time has
// started nothing for this request.
const answerTimeout = 2 * time.Second

// Result is how Run ended.
type Result struct {
	// Taken: serve ran (or began) the drain; Code is its exit code.
	// Not taken: nothing was started by serve, and Why says why; the
	// caller runs the drain itself unless Fail is set.
	Taken bool
	Code  int
	Why   string
	// Fail (not taken): the caller must not run the drain itself either:
	// serve is there but did not answer in time, so it is not known that
	// it will not start the drain once it does.
	Fail bool
}

// Run asks serve, on the unix socket, to run req, and copies the drain's
// output to stdout and its error message to stderr.
//
// Not taken, to be run by the caller: no socket, nothing listening on it
// (serve is not running), a serve without Path (older), or a refusal (409:
// another configuration file). Not taken and failed: serve accepted the
// connection but gave no answer within answerTimeout. Taken: the exit code
// of the drain, or 1 with a message when the connection broke before its
// end (the drain then ended as an interrupted one does, or finished:
// `hacheck status` says which).
func Run(ctx context.Context, socket string, req Request, stdout, stderr io.Writer) Result {
	body, err := json.Marshal(req)
	if err != nil {
		return Result{Why: err.Error()}
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		ResponseHeaderTimeout: answerTimeout,
		DisableKeepAlives:     true,
	}
	defer tr.CloseIdleConnections()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://hacheck"+Path, bytes.NewReader(body))
	if err != nil {
		return Result{Why: err.Error()}
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(hreq)
	switch {
	case err != nil && notListening(err):
		return Result{Why: fmt.Sprintf("nothing answers on admin.socket %s (%v)", socket, err)}
	case err != nil:
		return Result{Fail: true, Why: fmt.Sprintf("serve did not answer on admin.socket %s (%v); this command started nothing. Look at serve (`hacheck status`), then run the drain again", socket, err)}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return Result{Why: fmt.Sprintf("serve on %s has no %s (an older hacheck)", socket, Path)}
	case http.StatusConflict:
		var r Refusal
		json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&r)
		return Result{Why: "serve refused: " + r.Error}
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return Result{Fail: true, Why: fmt.Sprintf("serve on %s answered %s: %s", socket, resp.Status, bytes.TrimSpace(b))}
	}
	return Result{Taken: true, Code: copyLines(resp.Body, stdout, stderr)}
}

// budgetSlack is how much longer than serve's budget the CLI waits.
const budgetSlack = 5 * time.Second

// copyLines writes the drain's output and returns its exit code. The wait
// is bounded by the budget serve announces: past it the connection is
// closed, which serve sees as the CLI going away.
func copyLines(r io.ReadCloser, stdout, stderr io.Writer) int {
	var late atomic.Bool
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			fmt.Fprintf(stderr, "hacheck: serve sent a line that is not a drain's (%v); run `hacheck status` to see where the drain stands\n", err)
			return 1
		}
		if l.Budget > 0 && timer == nil {
			timer = time.AfterFunc(time.Duration(l.Budget*float64(time.Second))+budgetSlack, func() {
				late.Store(true)
				r.Close()
			})
		}
		io.WriteString(stdout, l.Out)
		if l.Exit != nil {
			if l.Error != "" {
				fmt.Fprintln(stderr, "hacheck: "+l.Error)
			}
			return *l.Exit
		}
	}
	err := sc.Err()
	switch {
	case late.Load():
		err = errors.New("serve did not end it within the budget it gave")
	case err == nil:
		err = io.ErrUnexpectedEOF
	}
	fmt.Fprintf(stderr, "hacheck: the connection to serve ended before the drain did (%v): the drain was undone as an interrupted one is, or it finished; run `hacheck status` to see which\n", err)
	return 1
}

// notListening: the socket file is missing, or nothing accepts on it.
func notListening(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}
