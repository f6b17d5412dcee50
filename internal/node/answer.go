package node

import (
	"context"
	"fmt"
	"io"

	"github.com/hacheck/hacheck/internal/answer"
	"github.com/hacheck/hacheck/internal/drain"
)

// answerStep is the drain's last step before the flip (see
// internal/answer): nil when drain.answer_for is 0 or no VIP is configured.
func (n *Node) answerStep() *answer.Step {
	if n.cfg.Drain.AnswerFor <= 0 || !n.cfg.VIP.Configured() {
		return nil
	}
	return &answer.Step{Dir: n.cfg.StateDir, Addr: n.cfg.VIP.Address.Addr(), Interface: n.cfg.VIP.Interface,
		Hold: n.cfg.Drain.AnswerFor, Held: n.vipHeld}
}

// withAnswer appends the answer step, when there is one, as the plan's
// last step before the flip.
func (n *Node) withAnswer(plan drain.Plan) drain.Plan {
	if a := n.answerStep(); a != nil {
		plan.Steps = append(plan.Steps, a)
	}
	return plan
}

// releaseAnswer ends the plan's lease drain.answer_for after the VIP left
// this node, in the background; Close waits for it, so a CLI drain exits
// only once the lease has ended (a --follow runs meanwhile).
func (n *Node) releaseAnswer(plan drain.Plan, res drain.Result) {
	for _, s := range plan.Steps {
		a, ok := s.(*answer.Step)
		if !ok || !a.Active() {
			continue
		}
		if res.Outcome != drain.Drained {
			// Not flipped (already drained, refused with --keep-fenced):
			// the VIP has not moved because of this drain.
			if err := a.Undo(context.Background(), io.Discard); err != nil {
				n.log.Error("end the answer lease", "err", err)
			}
			continue
		}
		n.after.Go(func() {
			if err := a.Release(context.Background()); err != nil {
				n.log.Error("end the answer lease", "err", err)
			}
		})
	}
}

// clearAnswer ends a lease left by a killed drain (undrain: this node may
// take the VIP again, and must then not keep answering after it leaves
// without a fence).
func (n *Node) clearAnswer(out io.Writer) error {
	l, found, err := answer.Clear(n.cfg.StateDir)
	if err != nil {
		return fmt.Errorf("end the answer lease left by drain pid %d (run this undrain as root): %w", l.PID, err)
	}
	if found {
		fmt.Fprintf(out, "ended the answer lease for %s left by drain pid %d\n", l.Addr, l.PID)
	}
	return nil
}

// endAnswer is the drain recovery's hook that ends a lease the
// interrupted drain left (nil without an answer step).
func (n *Node) endAnswer() func(io.Writer) (bool, error) {
	if n.answerStep() == nil {
		return nil
	}
	return func(out io.Writer) (bool, error) {
		l, found, err := answer.Clear(n.cfg.StateDir)
		if found && err == nil {
			fmt.Fprintf(out, "ended the answer lease for %s left by drain pid %d\n", l.Addr, l.PID)
		}
		return found, err
	}
}

// EndDeadAnswer ends a lease whose drain is gone. `hacheck check` calls
// it on every run: it runs as root under keepalived, so it ends a lease
// that a recovery without CAP_NET_ADMIN (serve as its own user) could not.
// Without a lease file it costs one failed open.
func (n *Node) EndDeadAnswer() error {
	if n.answerStep() == nil {
		return nil
	}
	l, found, err := answer.ClearDead(n.cfg.StateDir)
	if err != nil {
		return fmt.Errorf("end the answer lease left by drain pid %d: %w", l.PID, err)
	}
	if found {
		n.log.Info("ended the answer lease of a drain that is gone", "address", l.Addr, "pid", l.PID)
	}
	return nil
}

var _ drain.Step = (*answer.Step)(nil)
