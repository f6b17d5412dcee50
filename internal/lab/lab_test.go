package lab_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/lab"
	"github.com/hacheck/hacheck/internal/lab/labtest"
)

// Stand-ins for the hacheck binary: keepalived runs "<bin> check --config
// ...", which /bin/true answers "healthy" and /bin/false "unhealthy".
const (
	healthy   = "/bin/true"
	unhealthy = "/bin/false"
)

func TestNetwork(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: healthy})
	ctx := labtest.Context(t, 30*time.Second)

	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, ns := range []string{l.BridgeNS, l.A.NS, l.B.NS, l.Client.NS} {
		if !slices.Contains(nsNames(string(out)), ns) {
			t.Errorf("namespace %s missing from ip netns list:\n%s", ns, out)
		}
	}
	// Only lab addresses, only from inside lab namespaces.
	for _, c := range []struct{ from, to *lab.Node }{{l.A, l.B}, {l.B, l.A}, {l.Client, l.A}, {l.Client, l.B}} {
		if _, err := l.Exec(ctx, c.from, "ping", "-c", "1", "-W", "2", c.to.Addr.Addr().String()); err != nil {
			t.Errorf("%s cannot ping %s: %v", c.from.Name, c.to.Name, err)
		}
	}
	holders, err := l.VIPHolders()
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 0 {
		t.Errorf("VIP held by %v before keepalived runs", names(holders))
	}
}

// startPair starts keepalived on A, waits until A holds the VIP, then starts
// B and waits until B has settled as BACKUP: A (priority 254) is master.
func startPair(t *testing.T, ctx context.Context, l *lab.Lab) {
	t.Helper()
	for _, n := range l.Pair() {
		if err := n.WriteTrack("0"); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	// StartPair lets B hear a couple of adverts from A before anything is timed.
	if err := l.StartPair(ctx, 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	t.Logf("keepalived pair up, a holds the VIP, after %v (1.5 s of it settling)", time.Since(start).Round(time.Millisecond))
	assertHolder(t, l, l.A)
}

func assertHolder(t *testing.T, l *lab.Lab, want *lab.Node) {
	t.Helper()
	holders, err := l.VIPHolders()
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 1 || holders[0] != want {
		t.Fatalf("VIP held by %v, want only %s", names(holders), want.Name)
	}
}

// move drains from (track file "1") and returns the time from the track
// file's rename to the VIP appearing on to, and to it leaving from.
func move(t *testing.T, ctx context.Context, l *lab.Lab, from, to *lab.Node) (added, removed time.Duration) {
	t.Helper()
	wTo, err := l.WatchVIP(to)
	if err != nil {
		t.Fatal(err)
	}
	defer wTo.Close()
	wFrom, err := l.WatchVIP(from)
	if err != nil {
		t.Fatal(err)
	}
	defer wFrom.Close()
	if _, err := wFrom.WaitAdded(ctx); err != nil { // the Initial event
		t.Fatal(err)
	}
	if err := from.WriteTrack("1"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	atTo, err := wTo.WaitAdded(wctx)
	if err != nil {
		t.Fatal(err)
	}
	atFrom, err := wFrom.WaitRemoved(wctx)
	if err != nil {
		t.Fatal(err)
	}
	assertHolder(t, l, to)
	return atTo.Sub(t0), atFrom.Sub(t0)
}

// undrain writes "0" into n's track file and waits until keepalived has
// taken n from FAULT back to BACKUP.
func undrain(t *testing.T, ctx context.Context, n *lab.Node) {
	t.Helper()
	off := lab.LogSize(n.KeepalivedLog)
	if err := n.WriteTrack("0"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := lab.WaitForLog(wctx, n.KeepalivedLog, off, "Entering BACKUP STATE"); err != nil {
		t.Fatal(err)
	}
}

func TestTrackFileMovesVIP(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: healthy})
	ctx := labtest.Context(t, 90*time.Second)
	startPair(t, ctx, l)

	var toB, toA []time.Duration
	const rounds = 3
	for i := range rounds {
		add, rm := move(t, ctx, l, l.A, l.B)
		t.Logf("round %d: track file a=1 -> VIP on b after %v (left a after %v)", i+1, ms(add), ms(rm))
		toB = append(toB, add)
		undrain(t, ctx, l.A)
		if i == 0 {
			// nopreempt: the undrained, higher-priority A must not take
			// the VIP back (with preempt it would after about 3.4 s).
			w, err := l.WatchVIP(l.A)
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 4500*time.Millisecond)
			_, err = w.WaitAdded(wctx)
			cancel()
			w.Close()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("after undrain of a: want the VIP to stay on b (nopreempt), got %v", err)
			}
			assertHolder(t, l, l.B)
		}
		add, rm = move(t, ctx, l, l.B, l.A)
		t.Logf("round %d: track file b=1 -> VIP on a after %v (left b after %v)", i+1, ms(add), ms(rm))
		toA = append(toA, add)
		undrain(t, ctx, l.B)
	}
	t.Logf("track file -> VIP on b (priority %d, skew %v): %s", l.B.Priority, ms(skewTime(l.B.Priority)), summary(toB))
	t.Logf("track file -> VIP on a (priority %d, skew %v): %s", l.A.Priority, ms(skewTime(l.A.Priority)), summary(toA))
	for _, d := range append(toB, toA...) {
		if d > 2*time.Second {
			t.Errorf("a track-file drain took %v; a FAULT should move the VIP within the skew time", d)
		}
	}
}

func TestFailingScriptMovesVIP(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: healthy})
	ctx := labtest.Context(t, 60*time.Second)
	startPair(t, ctx, l)

	w, err := l.WatchVIP(l.B)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := l.A.InstallHacheck(unhealthy); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	at, err := w.WaitAdded(wctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check script starts failing on a -> VIP on b after %v (interval 1 s, fall 1)", ms(at.Sub(t0)))
	assertHolder(t, l, l.B)
}

// procAlive reports whether pid still names a running, non-zombie process.
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// labPIDs returns the pids of everything the lab runs: the processes it
// started and keepalived's VRRP children (from their pid files).
func labPIDs(t *testing.T, l *lab.Lab, procs ...*lab.Proc) []int {
	t.Helper()
	var pids []int
	for _, p := range procs {
		pids = append(pids, p.PID())
	}
	for _, n := range l.Pair() {
		b, err := os.ReadFile(filepath.Join(n.Dir, "keepalived-vrrp.pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertGone(t *testing.T, l *lab.Lab, pids []int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, ns := range nsNames(string(out)) {
		if strings.Contains(ns, l.ID) {
			t.Errorf("namespace %s left behind", ns)
		}
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab directory %s left behind (%v)", l.Dir, err)
	}
	for _, pid := range pids {
		if procAlive(pid) {
			t.Errorf("process %d left running", pid)
		}
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	l := labtest.New(t, lab.Config{Hacheck: healthy})
	ctx := labtest.Context(t, 30*time.Second)
	var procs []*lab.Proc
	for _, n := range l.Pair() {
		p, err := l.StartKeepalived(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	sleeper, err := l.Start(l.Client, "sleep", "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	procs = append(procs, sleeper)
	pids := labPIDs(t, l, procs...)
	if len(pids) != 5 {
		t.Fatalf("want 5 pids (2 keepalived, 2 VRRP children, sleep), got %v", pids)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, l, pids)
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestDownByName tears a lab down from its record alone, as `lab.sh down`
// does from another process.
func TestDownByName(t *testing.T) {
	labtest.Require(t)
	base, err := os.MkdirTemp("/run", "hacheck-labtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	ctx := labtest.Context(t, 30*time.Second)
	l, err := lab.New(ctx, lab.Config{Hacheck: healthy, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() }) // the safety net; Down should leave it nothing to do
	ka, err := l.StartKeepalived(ctx, l.A)
	if err != nil {
		t.Fatal(err)
	}
	sleeper, err := l.Start(l.B, "sleep", "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	// A grandchild in its own process group, unknown to the record: only
	// the namespace sweep can find it.
	orphan, err := l.Start(l.Client, "orphan", "sh", "-c", "setsid sleep 300 & echo $! > "+filepath.Join(l.Client.Dir, "orphan.pid")+"; wait")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var orphanPID int
	for orphanPID == 0 && wctx.Err() == nil {
		b, _ := os.ReadFile(filepath.Join(l.Client.Dir, "orphan.pid"))
		orphanPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if orphanPID == 0 {
		t.Fatal("orphan never started")
	}
	pids := append(labPIDs(t, l, ka, sleeper, orphan), orphanPID)

	ids, err := lab.List(base)
	if err != nil || !slices.Contains(ids, l.ID) {
		t.Fatalf("List(%s) = %v, %v; want it to contain %s", base, ids, err, l.ID)
	}
	if _, err := lab.Open(base, l.ID); err != nil {
		t.Fatal(err)
	}
	if err := lab.Down(base, l.ID); err != nil {
		t.Fatal(err)
	}
	// Down ran as if from another process; give our own Wait goroutines a
	// moment to reap the children it killed.
	for _, p := range []*lab.Proc{ka, sleeper, orphan} {
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			t.Errorf("%s still running after Down", p.Name)
		}
	}
	assertGone(t, l, pids)
	if err := lab.Down(base, l.ID); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if _, err := lab.Open(base, l.ID); err == nil {
		t.Error("Open after Down succeeded")
	}
}

func nsNames(ipNetnsList string) []string {
	var out []string
	for _, line := range strings.Split(ipNetnsList, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out
}

func names(nodes []*lab.Node) []string {
	var s []string
	for _, n := range nodes {
		s = append(s, n.Name)
	}
	return s
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// skewTime is VRRP's skew time of a node of priority prio at advert_int 1 s.
func skewTime(prio int) time.Duration { return time.Duration(256-prio) * time.Second / 256 }

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = ms(d).String()
	}
	return "min " + ms(s[0]).String() + ", median " + ms(s[len(s)/2]).String() + ", max " + ms(s[len(s)-1]).String() + " (" + strings.Join(parts, " ") + ")"
}

// TestReapOrphans kills a process that owns a lab (as go test -timeout
// would) and checks that ReapOrphans removes what it left.
func TestReapOrphans(t *testing.T) {
	if os.Getenv("HACHECK_LAB_ORPHAN_BASE") != "" {
		orphanHelper()
		return
	}
	labtest.Require(t)
	base, err := os.MkdirTemp("/run", "hacheck-labtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	persistent, err := lab.New(labtest.Context(t, 30*time.Second), lab.Config{Hacheck: healthy, Base: base, Persistent: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { persistent.Close() })

	ctx := labtest.Context(t, 30*time.Second)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReapOrphans$")
	cmd.Env = append(os.Environ(), "HACHECK_LAB_ORPHAN_BASE="+base)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var id string
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf) // the helper prints its lab id once the lab is up
	id = strings.TrimSpace(string(buf[:n]))
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	orphan, err := lab.Open(base, id)
	if err != nil {
		t.Fatalf("helper's lab %q: %v", id, err)
	}
	t.Cleanup(func() { lab.Down(base, id) })

	reaped, err := lab.ReapOrphans(base)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(reaped, []string{id}) {
		t.Errorf("reaped %v, want [%s] (and not the persistent %s)", reaped, id, persistent.ID)
	}
	assertGone(t, orphan, nil)
	if _, err := lab.Open(base, persistent.ID); err != nil {
		t.Errorf("persistent lab was reaped: %v", err)
	}
}

// orphanHelper runs in a child test process: it builds a lab with a
// running process, prints the lab id and waits to be killed.
func orphanHelper() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := lab.New(ctx, lab.Config{Hacheck: healthy, Base: os.Getenv("HACHECK_LAB_ORPHAN_BASE")})
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := l.Start(l.A, "sleep", "sleep", "300"); err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString(l.ID + "\n")
	<-ctx.Done() // killed long before; the deadline bounds a lost parent
	l.Close()
	os.Exit(1)
}
