package db

import (
	"sync"

	"github.com/go-sql-driver/mysql"
)

// Dial networks other than tcp and unix exist only when this process
// registers them with the driver (the lab and the tests dial from inside a
// network namespace). RegisterDialContext registers one and remembers its
// name, so that configuration validation (config.DSN) accepts DSNs on it
// and still refuses a mistyped network such as tcpx(...).
var dialers sync.Map // network name -> struct{}

// RegisterDialContext registers dial as the driver's network name.
func RegisterDialContext(name string, dial mysql.DialContextFunc) {
	mysql.RegisterDialContext(name, dial)
	dialers.Store(name, struct{}{})
}

// IsRegisteredNetwork reports whether name was registered through
// RegisterDialContext.
func IsRegisteredNetwork(name string) bool {
	_, ok := dialers.Load(name)
	return ok
}
