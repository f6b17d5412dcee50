package cutover

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// fenceKiller fences a server and kills the connections that hold the
// fence up; *db.Server implements it.
type fenceKiller interface {
	FenceWithKill(ctx context.Context, opts db.FenceKillOptions) (db.FenceReport, error)
}

var _ fenceKiller = (*db.Server)(nil)

// setFence issues the fence for the Fence step: with Kill (mysql.fence_kill)
// and a server that can, it waits Grace (mysql.fence_grace) for running
// writes, then kills what holds the fence up, until it lands within ctx;
// without, it waits for running writes and gives up when ctx ends. The
// connections it killed are kept in f.Killed and listed on out.
func (f *Fence) setFence(ctx context.Context, out io.Writer) error {
	k, ok := f.Local.(fenceKiller)
	if !f.Kill || !ok {
		err := f.Local.SetReadOnly(ctx, true)
		if db.IsLockWaitTimeout(err) && !f.Kill {
			err = fmt.Errorf("%w (running writes held the fence up; mysql.fence_kill is off, so hacheck did not kill them)", err)
		}
		return err
	}
	rep, err := k.FenceWithKill(ctx, db.FenceKillOptions{Grace: f.Grace, Conns: f.conns})
	f.Killed, f.Waited = rep.Killed, rep.Waited
	if err == nil {
		f.landed = rep.Position // read with the state that proved the fence
	}
	if len(rep.Killed) > 0 {
		how := ""
		if rep.Stalled > 0 {
			how = " (held up for good: writes queued behind the fence while a row-lock wait or a write still running held it, so not for all of mysql.fence_grace)"
		}
		fmt.Fprintf(out, "  the fence waited %s for running writes%s; it killed %d connection(s) that held it up (their open transactions rolled back; none had been acknowledged):\n",
			rep.Waited.Round(time.Millisecond), how, len(rep.Killed))
		for _, c := range rep.Killed {
			fmt.Fprintf(out, "    %s\n", c)
		}
	}
	return err
}

// KilledConns lists the connections the fence killed, for the drain's record.
func (f *Fence) KilledConns() []db.KilledConn { return f.Killed }

// killNote completes the message of a fence that timed out.
func (f *Fence) killNote() string {
	if !f.Kill {
		return ""
	}
	return fmt.Sprintf(", even after killing %d connection(s) that held it up", len(f.Killed))
}
