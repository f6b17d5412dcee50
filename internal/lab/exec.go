package lab

import (
	"fmt"
	"os/exec"
)

// StartIn starts cmd (built with exec.Command, not through `ip netns
// exec`) with n's network namespace: it is forked from a thread that has
// entered the namespace, so the child starts there directly. A command's
// start-up is then measured as an operator's shell would see it, without
// the few tens of milliseconds `ip netns exec` spends mounting /sys.
func (l *Lab) StartIn(n *Node, cmd *exec.Cmd) error {
	if _, err := inNamespace(n, func() (struct{}, error) { return struct{}{}, cmd.Start() }); err != nil {
		return fmt.Errorf("start %s in %s: %w", cmd.Path, n.NS, err)
	}
	return nil
}

// Do runs f on a thread inside n's network namespace: netlink calls and
// /proc/sys/net made by f act on n.
func (l *Lab) Do(n *Node, f func() error) error {
	_, err := inNamespace(n, func() (struct{}, error) { return struct{}{}, f() })
	return err
}
