// Package debpkg holds the test of the Debian package that
// scripts/package.sh builds: its contents and metadata (dpkg-deb), an
// install with dpkg -i, `hacheck serve` started as the packaged systemd
// unit would start it (its User=, Group= and ExecStart, no capabilities),
// and a purge that leaves nothing behind. It needs root, dpkg and setpriv,
// and it installs into the machine's own /etc, /usr and /var: it refuses to
// run where hacheck is already installed. With CI set a missing
// prerequisite fails the test, otherwise it is skipped.
package debpkg
