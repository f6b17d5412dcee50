package server

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"
)

// process is what matters of a process for running a drain in its place:
// a drain runs with the rights of who asks for it (its precondition
// scripts run with them, its answer step needs CAP_NET_ADMIN).
type process struct {
	UID        int
	CapEff     string // /proc/PID/status CapEff
	NoNewPrivs string // /proc/PID/status NoNewPrivs
	MountNS    string // /proc/PID/ns/mnt: the files it sees
}

// readProcess reads pid's process facts from /proc ("self" for this one).
func readProcess(pid string, uid int) (process, error) {
	p := process{UID: uid}
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return p, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "CapEff":
			p.CapEff = strings.TrimSpace(v)
		case "NoNewPrivs":
			p.NoNewPrivs = strings.TrimSpace(v)
		}
	}
	p.MountNS, err = os.Readlink("/proc/" + pid + "/ns/mnt")
	return p, err
}

// binaryID identifies the executable serve runs, to tell when it has been
// replaced (an upgrade renames the new one over it).
func binaryID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %s", exe, fi.Size(), fi.ModTime().UTC().Format("2006-01-02T15:04:05.000000000"))
}

// fileDigest is the SHA-256 of a file's content ("" when unreadable).
func fileDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return string(sum[:])
}

// cliDrainFacts is what serve compares before it runs a CLI's drain.
type cliDrainFacts struct {
	CLIConfig, Config   string // the file the CLI read; serve's
	ConfigNow, ConfigAt string // serve's file's digest now; when serve loaded it
	BinaryNow, BinaryAt string // serve's executable now; when serve started
	CLI, Serve          process
	CLIErr              error // the CLI's process could not be read
}

// cliDrainRefusal says why serve must not run this CLI's drain ("" when it
// may): it would not be the drain the CLI would run itself. The CLI then
// runs it in its own process, as without serve.
func cliDrainRefusal(f cliDrainFacts) string {
	switch {
	case f.Config == "":
		return "this serve runs without a configuration file (defaults and environment)"
	case f.CLIConfig != f.Config:
		return fmt.Sprintf("this serve runs %s, the CLI read %s", f.Config, f.CLIConfig)
	case f.ConfigAt == "":
		return fmt.Sprintf("serve could not read %s when it started", f.Config)
	case f.ConfigNow != f.ConfigAt:
		return fmt.Sprintf("%s changed since serve loaded it (restart serve to run drains with it)", f.Config)
	case f.BinaryAt == "" || f.BinaryNow != f.BinaryAt:
		return "the hacheck program was replaced since serve started (an upgrade: restart serve)"
	case f.CLIErr != nil:
		return fmt.Sprintf("the CLI's process cannot be read (%v)", f.CLIErr)
	case f.CLI.UID != f.Serve.UID:
		return fmt.Sprintf("serve runs as uid %d, the CLI as uid %d: a drain runs with the rights of who asks for it", f.Serve.UID, f.CLI.UID)
	case f.CLI.CapEff != f.Serve.CapEff:
		return fmt.Sprintf("serve's capabilities (%s) are not the CLI's (%s): a drain runs with the rights of who asks for it", f.Serve.CapEff, f.CLI.CapEff)
	case f.CLI.NoNewPrivs != f.Serve.NoNewPrivs:
		return "serve runs with no_new_privs and the CLI does not, or the other way round: a drain runs with the rights of who asks for it"
	case f.CLI.MountNS != f.Serve.MountNS:
		return "serve sees other files than the CLI (another mount namespace, e.g. systemd's PrivateTmp or ProtectSystem): a drain's precondition scripts must see the CLI's"
	}
	return ""
}
