package cutover_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hacheck/hacheck/internal/cutover"
	"github.com/hacheck/hacheck/internal/db"
)

// killer is a fake server whose fence lands only after it kills.
type killer struct {
	server
	killed []db.KilledConn
	err    error
	grace  time.Duration
}

func (k *killer) FenceWithKill(ctx context.Context, opts db.FenceKillOptions) (db.FenceReport, error) {
	k.grace = opts.Grace
	k.did("fence-kill")
	if k.err != nil {
		<-ctx.Done() // gives up at the fence's deadline, as the real one does
	} else {
		k.set(true)
	}
	return db.FenceReport{Waited: 310 * time.Millisecond, Rounds: 1, Killed: k.killed}, k.err
}

func TestFenceKillsWhatHoldsItUp(t *testing.T) {
	victim := db.KilledConn{ID: 12, User: "app", Host: "10.0.0.3:5000", Command: "Query", State: "Updating", Info: "UPDATE t SET k = k + 1 WHERE id = 1"}
	gaveUp := errors.New("fence a: SET GLOBAL read_only = ON did not land within its deadline after 2 round(s) of kills: context deadline exceeded")
	for _, tc := range []struct {
		name    string
		kill    bool
		killErr error
		want    string // in the output or the error
		log     string
		killed  int
	}{
		{name: "kill on", kill: true, want: "killed 1 connection(s) that held it up", log: "fence-kill", killed: 1},
		{name: "kill off", kill: false, log: "fence"},
		{name: "kill fails", kill: true, killErr: gaveUp, want: "even after killing 1 connection(s)", log: "fence-kill", killed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := &killer{server: server{name: "a", pos: "0-1-5"}, killed: []db.KilledConn{victim}, err: tc.killErr}
			f := &cutover.Fence{Local: db, Timeout: 50 * time.Millisecond, Kill: tc.kill, Grace: 20 * time.Millisecond, Frozen: &cutover.Frozen{}}
			var out bytes.Buffer
			err := f.Do(context.Background(), &out)
			text := out.String()
			if err != nil {
				text += err.Error()
			}
			if (err != nil) != (tc.killErr != nil) || !strings.Contains(text, tc.want) || db.done() != tc.log || len(f.KilledConns()) != tc.killed {
				t.Fatalf("err %v, log %q, killed %v\n%s", err, db.done(), f.KilledConns(), out.String())
			}
			if tc.kill && db.grace != 20*time.Millisecond {
				t.Errorf("grace %s", db.grace)
			}
			if tc.killed > 0 && !strings.Contains(out.String(), "id 12 app@10.0.0.3:5000 Query 0s \"Updating\": UPDATE t SET k = k + 1 WHERE id = 1") {
				t.Errorf("the killed connection is not listed:\n%s", out.String())
			}
		})
	}
}
