package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hacheck/hacheck/internal/peer"
	"github.com/hacheck/hacheck/internal/state"
)

// Hold confirmation: a node whose keepalived reports its transitions
// through `hacheck notify` (keepalived.json exists) confirms a hold only
// once keepalived has reported FAULT, polling every holdPoll for at most
// holdConfirm; a node without any recorded transition confirms on the
// track file alone (keepalived applies it through inotify in about 5 ms).
const (
	holdConfirm = 2 * time.Second
	holdPoll    = 20 * time.Millisecond
)

// Hold keeps this node out of keepalived's election while req.By moves
// its primary to req.For (POST /v1/hold): it records the hold in the state
// for ttl, which rewrites the track file to "1" (keepalived puts the
// instance into FAULT at once; `check` and /healthz fail with "held for
// move to ..."), then confirms it is in effect. Refused, with nothing
// left held, when this node is the successor, holds the VIP, is held for
// another move, or keepalived does not report FAULT in time. A drained node
// can be held (an undrain during the move then keeps it ineligible).
func (n *Node) Hold(ctx context.Context, req peer.HoldRequest, ttl time.Duration) (peer.HoldResponse, error) {
	resp := peer.HoldResponse{Node: n.cfg.Node}
	if req.For == n.cfg.Node {
		return resp, fmt.Errorf("this node (%s) is the successor of the move: it cannot be held for it", n.cfg.Node)
	}
	if v := n.vipView(); v.Known && (v.Err != nil || v.Held) {
		if v.Err != nil {
			return resp, fmt.Errorf("whether this node holds the VIP is unknown (%v): not holding it", v.Err)
		}
		return resp, fmt.Errorf("this node holds the VIP %s: a hold would move it; only a node without the VIP can be held", n.cfg.VIP.Address)
	}
	now := time.Now()
	h := state.Hold{For: req.For, By: req.By, Since: now, Until: now.Add(ttl), Reason: req.Reason}
	s, err := n.store.SetHold(h)
	if err != nil {
		return resp, err
	}
	resp.Hold = s.Hold
	confirmed, err := n.confirmHold(ctx)
	if err != nil {
		if _, rerr := n.store.ReleaseHold(req.For, req.By); rerr != nil {
			err = fmt.Errorf("%w; and the hold could not be released (it ends by itself at %s): %v", err, h.Until.Format(time.RFC3339), rerr)
		}
		resp.Hold = nil
		return resp, err
	}
	resp.Outcome, resp.Confirmed = "held", confirmed
	n.log.Info("held: not eligible for the VIP while the primary moves", "for", req.For, "by", req.By, "until", s.Hold.Until, "confirmed", confirmed)
	return resp, nil
}

// confirmHold says how the hold was seen in effect (see holdConfirm).
func (n *Node) confirmHold(ctx context.Context) (string, error) {
	b, err := readTrack(n.store)
	if err != nil || b != "1\n" {
		return "", fmt.Errorf("the track file %s does not read 1 after the hold (%q, %v)", n.store.TrackPath(), b, err)
	}
	t, ok, err := n.store.LoadTransition()
	if err != nil {
		return "", fmt.Errorf("read keepalived's last transition: %w", err)
	}
	if !ok {
		return "track file written (no keepalived transition recorded on this node: keepalived applies the track file within milliseconds)", nil
	}
	ctx, cancel := context.WithTimeout(ctx, holdConfirm)
	defer cancel()
	for {
		if t.State == "FAULT" {
			return fmt.Sprintf("track file written; keepalived reported FAULT (%s %s at %s)", t.Kind, t.Instance, t.At.Format(time.RFC3339Nano)), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("keepalived did not report FAULT within %s of the hold (last transition: %s at %s): is the track file wired into keepalived.conf?", holdConfirm, t.State, t.At.Format(time.RFC3339))
		case <-time.After(holdPoll):
		}
		if t, _, err = n.store.LoadTransition(); err != nil {
			return "", fmt.Errorf("read keepalived's last transition: %w", err)
		}
	}
}

// Release ends the hold of req's move (POST /v1/release); a hold of
// another move is left alone.
func (n *Node) Release(req peer.HoldRequest) (peer.HoldResponse, error) {
	resp := peer.HoldResponse{Node: n.cfg.Node, Outcome: "not_held"}
	released, err := n.store.ReleaseHold(req.For, req.By)
	if err != nil {
		return resp, err
	}
	if released {
		resp.Outcome = "released"
		n.log.Info("hold released: eligible for the VIP again", "for", req.For, "by", req.By)
	}
	return resp, nil
}

func readTrack(st state.Store) (string, error) {
	b, err := os.ReadFile(st.TrackPath())
	return string(b), err
}

// releaseOwnHold drops this node's hold for the move to successor once it
// follows that successor as the writable primary: the move is over (its
// drain was killed after the flip, or could not release it), so the lease
// need not run out.
func (n *Node) releaseOwnHold(successor string, out io.Writer) {
	released, err := n.store.ReleaseHold(successor, "")
	switch {
	case err != nil:
		fmt.Fprintf(out, "warning: could not release this node's hold for the move to %s (it ends by its lease): %v\n", successor, err)
	case released:
		fmt.Fprintf(out, "released this node's hold for the move to %s: it follows %s, the writable primary\n", successor, successor)
	}
}
