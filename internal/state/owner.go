package state

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Owner is the process that writes a journal.
type Owner struct {
	PID    int    `json:"pid"`
	BootID string `json:"boot_id,omitempty"`
	// StartTicks is field 22 of /proc/PID/stat (start time after boot, in
	// clock ticks): with the boot id, it tells the owner from a later
	// process that got the same PID.
	StartTicks uint64    `json:"start_ticks,omitempty"`
	Started    time.Time `json:"started"`
}

// Self is the running process as an Owner.
func Self() Owner {
	o := Owner{PID: os.Getpid(), Started: time.Now().UTC()}
	o.BootID, _ = bootID()
	o.StartTicks, _ = procStartTicks(o.PID)
	return o
}

// Liveness is what is known now about a journal's owner.
type Liveness struct {
	BootID     string // this boot's id ("" unknown)
	PIDRunning bool   // a process with the owner's PID exists
	StartTicks uint64 // that process's start time (0 unknown)
}

// Look reads the liveness of o's process now.
func Look(o Owner) Liveness {
	var l Liveness
	l.BootID, _ = bootID()
	if o.PID > 0 {
		if t, err := procStartTicks(o.PID); err == nil {
			l.PIDRunning, l.StartTicks = true, t
		}
	}
	return l
}

// Alive decides whether o is still running, from l: not after a reboot
// (a different boot id), not when no process has its PID, not when the
// process with its PID started at another time. Anything the owner did not
// record is not held against it.
func (o Owner) Alive(l Liveness) bool {
	if o.BootID != "" && l.BootID != "" && o.BootID != l.BootID {
		return false
	}
	if !l.PIDRunning {
		return false
	}
	if o.StartTicks != 0 && l.StartTicks != 0 && o.StartTicks != l.StartTicks {
		return false
	}
	return true
}

func (o Owner) String() string {
	return fmt.Sprintf("pid %d, started %s", o.PID, o.Started.Local().Format(time.RFC3339))
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// procStartTicks reads field 22 of /proc/PID/stat. The second field (the
// command) is in parentheses and may itself hold spaces and parentheses,
// so the fields are counted after its last ')'.
func procStartTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStartTicks(string(b))
}

func parseStartTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no command field")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("proc stat: %d fields after the command", len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}
