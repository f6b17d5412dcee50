//go:build !linux

package cutover

import "errors"

// NowStamp needs Linux (CLOCK_BOOTTIME and the boot id); elsewhere every
// stamp is unknown and no notify event is ever judged stale.
func NowStamp() (Stamp, error) {
	return Stamp{}, errors.New("ordering stamps need Linux (CLOCK_BOOTTIME, boot id)")
}
