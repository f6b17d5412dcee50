package check_test

import (
	"os"
	"strconv"
)

// sstRows is how many 1 MB rows the donor test writes before the SST:
// GALERA_SST_MB, default 20 (an rsync SST of that lasts a second or two
// here, long enough to watch the donor).
func sstRows() int {
	if n, err := strconv.Atoi(os.Getenv("GALERA_SST_MB")); err == nil && n > 0 {
		return n
	}
	return 20
}
