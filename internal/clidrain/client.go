package clidrain

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
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
// Not taken, to be run by the caller: no connection to the socket (serve
// is not running), a serve without Path (older), or a refusal before the
// drain (409: not the drain the CLI would run; 400, 413: a request it does
// not take). Not taken and failed: serve accepted the connection but gave
// no answer within answerTimeout, or an answer it should not. Taken: the
// exit code of the drain, or 1 with a message when the connection broke
// before its end (the drain then ended as an interrupted one does, or
// finished: `hacheck status` says which). When ctx ends, serve is told
// (the CLI's side of the connection closes) and its last lines are read.
//
// The request is HTTP/1.0, written here rather than with net/http, whose
// initialisers would cost the lean front (cmd/hacheck-front) a quarter of
// its start: serve's net/http answers a 1.0 request with the body as it
// is flushed, unchunked, and closes the connection at its end.
func Run(ctx context.Context, socket string, req Request, stdout, stderr io.Writer) Result {
	body, err := json.Marshal(req)
	if err != nil {
		return Result{Why: err.Error()}
	}
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, answerTimeout)
	c, err := d.DialContext(dctx, "unix", socket)
	cancel()
	if err != nil {
		// No connection: serve started nothing (not running, a stale
		// socket, a full backlog, no permission).
		return Result{Why: fmt.Sprintf("no serve on admin.socket %s (%v)", socket, err)}
	}
	conn := c.(*net.UnixConn)
	defer conn.Close()
	// ctx ending (Ctrl-C, SIGTERM) closes the CLI's side of the
	// connection: serve sees it and interrupts the drain, as Ctrl-C does
	// the CLI's own; its last lines (the undo, the exit) are still read,
	// for interruptWait at most.
	stop := context.AfterFunc(ctx, func() {
		conn.CloseWrite()
		conn.SetReadDeadline(time.Now().Add(interruptWait))
	})
	defer stop()
	noAnswer := func(err error) Result {
		return Result{Fail: true, Why: fmt.Sprintf("serve accepted the connection on admin.socket %s but gave no answer (%v); it may still start the drain when it does: look at `hacheck status` before you run the drain again", socket, err)}
	}
	conn.SetWriteDeadline(time.Now().Add(answerTimeout))
	conn.SetReadDeadline(time.Now().Add(answerTimeout))
	head := fmt.Sprintf("POST %s HTTP/1.0\r\nHost: hacheck\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", Path, len(body))
	if _, err := io.WriteString(conn, head+string(body)); err != nil {
		return noAnswer(err)
	}
	br := bufio.NewReader(conn)
	status, err := readHead(br)
	if err != nil {
		return noAnswer(err)
	}
	if ctx.Err() == nil {
		conn.SetReadDeadline(time.Time{})
	}
	switch status {
	case 200:
	case 404, 405:
		return Result{Why: fmt.Sprintf("serve on %s has no %s (an older hacheck)", socket, Path)}
	case 400, 413:
		// Refused before the drain (a field an older serve does not know).
		b, _ := io.ReadAll(io.LimitReader(br, 1<<16))
		return Result{Why: fmt.Sprintf("serve on %s refused the request (%d): %s", socket, status, strings.TrimSpace(string(b)))}
	case 409:
		var r Refusal
		json.NewDecoder(io.LimitReader(br, 1<<16)).Decode(&r)
		return Result{Why: "serve refused: " + r.Error}
	default:
		b, _ := io.ReadAll(io.LimitReader(br, 1<<16))
		return Result{Fail: true, Why: fmt.Sprintf("serve on %s answered %d: %s", socket, status, strings.TrimSpace(string(b)))}
	}
	return Result{Taken: true, Code: copyLines(br, conn, stdout, stderr)}
}

// readHead reads the status line and the headers, and returns the status.
func readHead(br *bufio.Reader) (int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return 0, fmt.Errorf("not an HTTP answer: %q", strings.TrimSpace(line))
	}
	status, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("not an HTTP status: %q", strings.TrimSpace(line))
	}
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if strings.TrimRight(h, "\r\n") == "" {
			return status, nil
		}
		if k, v, _ := strings.Cut(h, ":"); strings.EqualFold(k, "Transfer-Encoding") && !strings.EqualFold(strings.TrimSpace(v), "identity") {
			return 0, fmt.Errorf("serve sent a %s body to an HTTP/1.0 request", strings.TrimSpace(v))
		}
	}
}

// budgetSlack is how much longer than serve's budget the CLI waits.
const budgetSlack = 5 * time.Second

// interruptWait bounds the wait for serve's last lines once the CLI is
// interrupted: the undo of a fence takes milliseconds.
const interruptWait = 15 * time.Second

// copyLines writes the drain's output and returns its exit code. The wait
// is bounded by the budget serve announces: past it the connection is
// closed, which serve sees as the CLI going away.
func copyLines(r io.Reader, conn io.Closer, stdout, stderr io.Writer) int {
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
				conn.Close()
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
