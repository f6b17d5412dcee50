package cutover

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one keepalived notify call: notify SCRIPT gets INSTANCE|GROUP,
// the name, MASTER|BACKUP|FAULT|STOP and the priority.
type Event struct {
	Kind     string
	Name     string
	State    string
	Priority int
	// Started is when this invocation started, by the wall clock: shown,
	// never compared (the wall clock can step backwards).
	Started time.Time
	// Stamp is when this invocation started, for ordering: keepalived runs
	// notify scripts asynchronously, so a later event may take the lock
	// first. The zero Stamp (unknown) is never judged stale.
	Stamp Stamp
}

// Stamp orders notify invocations on one node: the kernel's boot id and
// CLOCK_BOOTTIME, read when the process started. Two stamps compare only
// when both were read during the same boot; across a reboot (or when one is
// unknown) neither is older.
type Stamp struct {
	BootID   string        `json:"boot_id,omitempty"`
	Boottime time.Duration `json:"boottime_ns,omitempty"`
}

// Comparable reports whether s and o were read during the same boot.
func (s Stamp) Comparable(o Stamp) bool { return s.BootID != "" && s.BootID == o.BootID }

// OlderThan reports whether s is known to be older than o.
func (s Stamp) OlderThan(o Stamp) bool { return s.Comparable(o) && s.Boottime < o.Boottime }

// ParseEvent reads the four notify arguments.
func ParseEvent(args []string, started time.Time) (Event, error) {
	if len(args) != 4 {
		return Event{}, fmt.Errorf("want 4 arguments INSTANCE|GROUP NAME MASTER|BACKUP|FAULT|STOP PRIORITY, got %d (%q)", len(args), strings.Join(args, " "))
	}
	ev := Event{Kind: strings.ToUpper(args[0]), Name: args[1], State: strings.ToUpper(args[2]), Started: started}
	if ev.Kind != "INSTANCE" && ev.Kind != "GROUP" {
		return Event{}, fmt.Errorf("first argument %q is not INSTANCE or GROUP", args[0])
	}
	switch ev.State {
	case "MASTER", "BACKUP", "FAULT", "STOP":
	default:
		return Event{}, fmt.Errorf("state %q is not MASTER, BACKUP, FAULT or STOP", args[2])
	}
	p, err := strconv.Atoi(args[3])
	if err != nil || p < 0 || p > 255 {
		return Event{}, fmt.Errorf("priority %q is not a number from 0 to 255", args[3])
	}
	ev.Priority = p
	return ev, nil
}
