package cutover

import (
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// NowStamp reads the boot id and CLOCK_BOOTTIME: a clock that only moves
// forwards (it counts time suspended, and never steps with the wall clock).
func NowStamp() (Stamp, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return Stamp{}, fmt.Errorf("read CLOCK_BOOTTIME: %w", err)
	}
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return Stamp{}, fmt.Errorf("read boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return Stamp{}, fmt.Errorf("read boot id: /proc/sys/kernel/random/boot_id is empty")
	}
	return Stamp{BootID: id, Boottime: time.Duration(ts.Nano())}, nil
}
