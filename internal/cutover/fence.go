package cutover

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// Frozen is the GTID position of the fenced server, handed from Fence to
// CatchUp.
type Frozen struct {
	Position string
	FencedAt time.Time
}

// Fence is the drain step that makes this server read-only (read_only on
// MariaDB, super_read_only on MySQL) within Timeout, then reads its frozen
// GTID position. SET GLOBAL read_only waits for running writes to finish;
// that wait is bounded server-side (lock_wait_timeout) and by Timeout.
//
// The state before the fence (read_only and, on MySQL, super_read_only) is
// saved. Undo puts back exactly that state; a server that was already
// fenced is left as it was. If Do fails after it issued the fence (the
// read-back, the position read, or an expired context: the SET may still
// have landed), Do itself restores the saved state before it returns the
// error, since a drain undoes only the steps before the one that failed: a
// refused drain never leaves the primary read-only.
type Fence struct {
	Local   DB
	Timeout time.Duration // mysql.fence_timeout
	Kill    bool          // mysql.fence_kill: kill what holds the fence up (fencekill.go)
	Grace   time.Duration // mysql.fence_grace: wait this long before killing
	Frozen  *Frozen
	// Intent, when set, is given the state to put back before the fence
	// is issued (by Prepare, and again by Do when the state changed
	// since); an error stops the step before it changes anything. The
	// drain journal keeps it, so that a drain killed midway is undone
	// exactly (see UndoFence). Fenced, when set, is given the frozen
	// position.
	Intent func(prior db.ReadOnlyState) error
	Fenced func(pos string) error

	Killed []db.KilledConn // connections the fence killed
	Waited time.Duration   // how long the fence waited to land

	prior  db.ReadOnlyState  // before the fence
	issued bool              // this step sent the fence and has not restored it
	conns  *db.FenceConns    // readied by Prepare; handed back when Do ends
	saved  *db.ReadOnlyState // the state Prepare gave Intent
	landed string            // the position setFence read with the landed fence; "": read it
}

// fencePreparer readies a fence's connections; *db.Server implements it.
type fencePreparer interface {
	PrepareFence(ctx context.Context) (*db.FenceConns, error)
}

var _ fencePreparer = (*db.Server)(nil)

// Prepare readies the fence while the drain's preconditions run (see
// drain.Plan.Warm), changing nothing on the server: it takes the fence's
// two connections and learns their ids, reads the state and gives it to
// Intent (the drain journal saves it durably). Do then reads the state
// again and issues the fence at once when it is unchanged, the intent
// already saved. On an error Prepare hands back what it took, and Do does
// it all itself on the pool and meets the error there. Release hands the
// connections back if Do never runs.
func (f *Fence) Prepare(ctx context.Context) {
	p, ok := f.Local.(fencePreparer)
	if !f.Kill || !ok {
		return // the plain fence is one statement on the pool
	}
	c, err := p.PrepareFence(ctx)
	if err != nil {
		return
	}
	st, err := c.ReadOnly(ctx)
	if err != nil {
		c.Close()
		return
	}
	f.conns = c
	if st.Fenced() || f.Intent == nil {
		return
	}
	if f.Intent(st) == nil {
		f.saved = &st
	}
}

// Release hands back the connections Prepare took.
func (f *Fence) Release() {
	if f.conns != nil {
		f.conns.Close()
		f.conns = nil
	}
}

// readOnly reads the server's state, on the prepared connections if any.
func (f *Fence) readOnly(ctx context.Context) (db.ReadOnlyState, error) {
	if f.conns != nil {
		return f.conns.ReadOnly(ctx)
	}
	return f.Local.ReadOnly(ctx)
}

// gtidPosition reads the server's position, on the prepared connections if any.
func (f *Fence) gtidPosition(ctx context.Context) (string, error) {
	if f.conns != nil {
		return f.conns.GTIDPosition(ctx)
	}
	return f.Local.GTIDPosition(ctx)
}

func (f *Fence) Name() string { return "fence" }

func (f *Fence) Describe() string {
	return fmt.Sprintf("fence %s: set it read-only within %s, then read its frozen GTID position", f.Local, f.Timeout)
}

func (f *Fence) Do(ctx context.Context, out io.Writer) error {
	fctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	// The undo, if any, runs on the pool.
	defer f.Release()
	st, err := f.readOnly(fctx)
	if err != nil && f.conns != nil {
		// A readied connection can have died meanwhile: the pool's.
		f.Release()
		st, err = f.Local.ReadOnly(fctx)
	}
	if err != nil {
		return err
	}
	f.prior, f.issued, f.landed = st, false, ""
	start := time.Now()
	if st.Fenced() && f.saved != nil && f.Intent != nil {
		// Fenced by someone else since Prepare saved the state: an undo
		// must leave it so.
		if err := f.Intent(st); err != nil {
			return fmt.Errorf("%s was fenced since the drain began, and the drain journal cannot say so: %w", f.Local, err)
		}
	}
	if !st.Fenced() {
		if f.Intent != nil && (f.saved == nil || !sameReadOnly(*f.saved, st)) {
			if err := f.Intent(st); err != nil {
				return fmt.Errorf("fence not issued: %w", err)
			}
		}
		f.issued = true
		err := f.setFence(fctx, out)
		if err != nil {
			if fctx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w (running writes did not finish within mysql.fence_timeout %s%s)", err, f.Timeout, f.killNote())
			}
			return f.failed(ctx, out, err)
		}
	}
	// The position comes with the proof that the fence landed (setFence),
	// or is read now with the drain's context: the fence is in place, and
	// this read must not fail because the fence took its time.
	pos := f.landed
	if pos == "" {
		pos, err = f.gtidPosition(ctx)
	}
	if err != nil {
		return f.failed(ctx, out, fmt.Errorf("read the frozen gtid position: %w", err))
	}
	f.Frozen.Position, f.Frozen.FencedAt = pos, time.Now()
	if f.Fenced != nil {
		if err := f.Fenced(pos); err != nil {
			fmt.Fprintf(out, "  warning: %v\n", err)
		}
	}
	if !f.issued {
		fmt.Fprintf(out, "  %s was already read-only (%s); frozen GTID position %q\n", f.Local, st, pos)
	} else {
		fmt.Fprintf(out, "  %s is read-only (took %s); frozen GTID position %q\n", f.Local, time.Since(start).Round(time.Millisecond), pos)
	}
	return nil
}

// failed restores the state saved before the fence, when this step issued
// one, and returns err with what the restore did.
func (f *Fence) failed(ctx context.Context, out io.Writer, err error) error {
	f.Release() // the restore runs on the pool
	if !f.issued {
		return err
	}
	// A fresh context: the drain's may have run out, and the SET may have
	// landed on the server after the client gave up.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.restoreTimeout())
	defer cancel()
	if rerr := f.restore(rctx, out); rerr != nil {
		return fmt.Errorf("%w; and the fence could not be undone: %v (fix this by hand)", err, rerr)
	}
	f.issued = false
	return fmt.Errorf("%w (fence undone: %s is back to %s)", err, f.Local, f.prior)
}

// restore re-reads the state and, unless it is already the saved one, puts
// the saved one back.
func (f *Fence) restore(ctx context.Context, out io.Writer) error {
	if st, err := f.Local.ReadOnly(ctx); err == nil && sameReadOnly(st, f.prior) {
		fmt.Fprintf(out, "  %s is %s, as before the fence\n", f.Local, st)
		return nil
	}
	if err := restoreReadOnly(ctx, f.Local, f.prior); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s is back to %s, as before the fence\n", f.Local, f.prior)
	return nil
}

func (f *Fence) restoreTimeout() time.Duration {
	return max(f.Timeout, 2*time.Second)
}

func (f *Fence) Undo(ctx context.Context, out io.Writer) error {
	if !f.issued {
		fmt.Fprintf(out, "  %s was read-only before the drain (%s); leaving it so\n", f.Local, f.prior)
		return nil
	}
	if err := f.restore(ctx, out); err != nil {
		return err
	}
	f.issued = false
	return nil
}

// readOnlyRestorer sets read_only and super_read_only to exactly a saved
// state; *db.Server implements it.
type readOnlyRestorer interface {
	RestoreReadOnly(ctx context.Context, want db.ReadOnlyState) error
}

var _ readOnlyRestorer = (*db.Server)(nil)

// restoreReadOnly puts back a fence state saved before a fence. Without a
// restorer only a fully writable state can be put back exactly
// (SetReadOnly(false)); any other is refused rather than loosened.
func restoreReadOnly(ctx context.Context, db DB, want db.ReadOnlyState) error {
	if r, ok := db.(readOnlyRestorer); ok {
		return r.RestoreReadOnly(ctx, want)
	}
	if want.ReadOnly || want.SuperReadOnly {
		return fmt.Errorf("%s: cannot restore %s exactly; leaving it read-only", db, want)
	}
	return db.SetReadOnly(ctx, false)
}

// sameReadOnly compares the variables that matter in the dialect: MariaDB
// has no super_read_only.
func sameReadOnly(a, b db.ReadOnlyState) bool {
	if a.Dialect == db.MySQL || b.Dialect == db.MySQL {
		return a.ReadOnly == b.ReadOnly && a.SuperReadOnly == b.SuperReadOnly
	}
	return a.ReadOnly == b.ReadOnly
}
