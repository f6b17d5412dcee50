// Package clidrain carries `hacheck drain` from the command line to
// `hacheck serve` over the admin socket (admin.socket): serve runs the
// drain from its open database connections and its warm peer client, and
// the drain's output comes back as it is written. The CLI's own process,
// a cold start of the full program, is what a move spent most of its
// first tens of milliseconds on.
//
// The wire: POST Path with a Request as JSON. Serve answers 409 with a
// Refusal when it will not run this drain: another configuration file, or
// a CLI of another uid than serve's (a drain runs with the rights of who
// asks: its precondition scripts, the answer step's CAP_NET_ADMIN; the
// packaged unit runs serve as the hacheck user, so a root CLI drains in
// its own process there);
// the CLI then runs the drain itself, as when nothing listens on the
// socket. Otherwise 200 and one Line of JSON per write of the drain's
// output, then a last Line with the exit code.
//
// The drain runs under the request: when the CLI goes away (Ctrl-C, kill
// -9), serve sees the connection close and the drain stops as an
// interrupted CLI drain does, its steps undone before the flip.
//
// Its client is part of the lean front (cmd/hacheck-front): this package
// imports only the standard library.
package clidrain

// Path is serve's endpoint for a CLI drain, on the admin socket.
const Path = "/v1/cli/drain"

// Request is `hacheck drain`'s flags, and who runs it.
type Request struct {
	// Config is the configuration file the CLI read, absolute: serve runs
	// only a drain of its own configuration.
	Config     string `json:"config"`
	By         string `json:"by"` // SUDO_USER (or the user) @host, as the CLI records it
	Reason     string `json:"reason,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`
	Force      bool   `json:"force,omitempty"`
	To         string `json:"to,omitempty"`
	KeepFenced bool   `json:"keep_fenced,omitempty"`
	Follow     bool   `json:"follow,omitempty"`
	// Timeout is --timeout as a Go duration ("" or unset: drain.timeout).
	Timeout string `json:"timeout,omitempty"`
}

// Line is one line of a 200 answer. The first has Budget: the longest,
// in seconds, that serve lets the drain (and --follow) take; the CLI waits
// that long and 5 s more. Out is output of the drain, as written; the last
// line has Exit (and Error, the message for stderr).
type Line struct {
	Budget float64 `json:"budget_s,omitempty"`
	Out    string  `json:"out,omitempty"`
	Exit   *int    `json:"exit,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Refusal is a 409 answer: serve did not start this drain, and says why.
type Refusal struct {
	Error string `json:"error"`
}
