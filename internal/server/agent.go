package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"
)

// agentReply answers HAProxy's agent-check protocol from the same verdict
// as /healthz:
//
//	"up ready"        healthy: up, and cancel any DRAIN/MAINT HAProxy set
//	"drain #reason"   drained by an operator: no new sessions, existing
//	                  ones finish
//	"down #reason"    state unusable or a live check failing
func (s *Server) agentReply(now time.Time) string {
	ok, reason, _, st, stErr := s.healthy(now)
	switch {
	case ok:
		return "up ready\n"
	case stErr == nil && !st.IsUp():
		return "drain #" + agentText(reason) + "\n"
	default:
		return "down #" + agentText(reason) + "\n"
	}
}

// agentText makes a reason safe for the agent protocol: one line, no
// protocol delimiters HAProxy would read as words, bounded length.
func agentText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' || r == ',' || r == '#' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), "_")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// serveAgent answers every connection on ln with one reply and closes it.
func (s *Server) serveAgent(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Warn("agent accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go func() {
			defer conn.Close()
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			conn.Write([]byte(s.agentReply(time.Now())))
		}()
	}
}
