package cutover

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/db"
)

// overlapDB is a fakeDB that notices when two callers are inside it at
// once. The first SetReadOnly holds its caller inside for hold (or until an
// overlap is seen), so that a second, unserialized notify gets the chance
// to enter.
type overlapDB struct {
	*fakeDB
	hold    time.Duration
	mu      sync.Mutex // guards fakeDB
	inside  atomic.Int32
	overlap atomic.Bool
	seen    chan struct{} // closed at the first overlap
	once    sync.Once
	entered chan struct{} // one signal per SetReadOnly entry
	calls   atomic.Int32
}

func newOverlapDB(f *fakeDB, hold time.Duration) *overlapDB {
	return &overlapDB{fakeDB: f, hold: hold, seen: make(chan struct{}), entered: make(chan struct{}, 8)}
}

func (o *overlapDB) enter() func() {
	if o.inside.Add(1) > 1 {
		o.overlap.Store(true)
		o.once.Do(func() { close(o.seen) })
	}
	return func() { o.inside.Add(-1) }
}

func (o *overlapDB) ReadOnly(ctx context.Context) (db.ReadOnlyState, error) {
	defer o.enter()()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fakeDB.ReadOnly(ctx)
}

func (o *overlapDB) SetReadOnly(ctx context.Context, on bool) error {
	defer o.enter()()
	o.entered <- struct{}{}
	if o.calls.Add(1) == 1 {
		select {
		case <-time.After(o.hold):
		case <-o.seen:
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fakeDB.SetReadOnly(ctx, on)
}

// Two notify invocations at once: the second must not touch the server, nor
// the record, while the first is inside.
func TestNotifierSerializesConcurrentHandles(t *testing.T) {
	dir := t.TempDir()
	srv := newOverlapDB(&fakeDB{name: "b"}, time.Second)
	n := &Notifier{Dir: dir, Local: srv, FenceTimeout: 5 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type result struct {
		r   Record
		err error
	}
	results := make(chan result, 2)
	handle := func(state string) {
		r, err := n.Handle(ctx, Event{Kind: "INSTANCE", Name: "VI_1", State: state})
		results <- result{r, err}
	}
	go handle("BACKUP")
	select {
	case <-srv.entered: // the first is inside the server, holding on
	case <-ctx.Done():
		t.Fatal("first notify never reached the server")
	}
	go handle("FAULT")
	seqs := map[uint64]bool{}
	for range 2 {
		res := <-results
		if res.err != nil || res.r.Action != ActionFenced {
			t.Fatalf("notify: %+v %v", res.r, res.err)
		}
		seqs[res.r.Seq] = true
	}
	if srv.overlap.Load() {
		t.Fatal("two notify invocations were inside the server at once: not serialized")
	}
	if !seqs[1] || !seqs[2] {
		t.Fatalf("records %v, want seq 1 and 2 (each invocation saw the other's record)", seqs)
	}
	if rec, ok, err := LoadRecord(dir); !ok || err != nil || rec.Seq != 2 {
		t.Fatalf("final record: %+v %v %v", rec, ok, err)
	}
}

// fenceFails is a fakeDB whose fence fails its first fails calls (all of
// them when fails < 0), the way SET GLOBAL read_only fails when long
// transactions outlast lock_wait_timeout.
type fenceFails struct {
	*fakeDB
	fails, calls int
}

func (f *fenceFails) SetReadOnly(ctx context.Context, on bool) error {
	f.calls++
	if on && (f.fails < 0 || f.calls <= f.fails) {
		return errors.New("fence: SET GLOBAL read_only = ON: Error 1205: Lock wait timeout exceeded")
	}
	return f.fakeDB.SetReadOnly(ctx, on)
}

func quietNotifier(dir string, local DB) *Notifier {
	return &Notifier{Dir: dir, Local: local, FenceTimeout: 2 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		FenceRetryBackoff: time.Millisecond, FenceAttempts: 6}
}

// A fence that fails is tried again within the notify budget.
func TestNotifierRetriesAFailedFence(t *testing.T) {
	srv := &fenceFails{fakeDB: &fakeDB{name: "b"}, fails: 2}
	n := quietNotifier(t.TempDir(), srv)
	r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP"})
	if err != nil || r.Action != ActionFenced || !srv.ro || srv.calls != 3 {
		t.Fatalf("after 2 failures: %+v %v, read-only %v, %d attempts", r, err, srv.ro, srv.calls)
	}
	if rec, _, _ := LoadRecord(n.Dir); rec.FencePending || !strings.Contains(rec.Detail, "attempt 3") {
		t.Fatalf("record: %+v", rec)
	}
}

// A fence that keeps failing is bounded, fails notify, and is recorded as
// pending so that the split-brain guard keeps failing and fencing.
func TestNotifierRecordsAFenceThatKeepsFailing(t *testing.T) {
	srv := &fenceFails{fakeDB: &fakeDB{name: "b"}, fails: -1}
	n := quietNotifier(t.TempDir(), srv)
	r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "FAULT"})
	if err == nil || r.Action != ActionFailed || srv.ro || srv.calls != n.FenceAttempts {
		t.Fatalf("%+v %v, read-only %v, %d attempts (want %d)", r, err, srv.ro, srv.calls, n.FenceAttempts)
	}
	rec, ok, err := LoadRecord(n.Dir)
	if !ok || err != nil || !rec.FencePending || rec.Action != ActionFailed || !strings.Contains(rec.Detail, "Lock wait timeout") {
		t.Fatalf("record: %+v %v %v", rec, ok, err)
	}
	// A budget that cannot hold another fence ends the retries early.
	srv.calls = 0
	ctx, cancel := context.WithTimeout(context.Background(), db.MinFenceTimeout/2)
	defer cancel()
	if r, err := n.Handle(ctx, Event{Kind: "INSTANCE", Name: "VI_1", State: "STOP"}); err == nil || srv.calls != 1 || r.Action != ActionFailed {
		t.Fatalf("short budget: %+v %v, %d attempts", r, err, srv.calls)
	}
	// A newer decision clears it.
	srv.fails = 0
	if r, err := n.Handle(context.Background(), Event{Kind: "INSTANCE", Name: "VI_1", State: "BACKUP"}); err != nil || r.Action != ActionFenced {
		t.Fatalf("fence: %+v %v", r, err)
	}
	if rec, _, _ := LoadRecord(n.Dir); rec.FencePending {
		t.Fatalf("still pending: %+v", rec)
	}
}
