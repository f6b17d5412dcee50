# Shared prelude of the lab scripts (demo.sh, bench-failover.sh,
# bench-cutover.sh). Sourced, not run.

# require_root NAME WHY: exit 2 unless running as root.
require_root() {
	if ((EUID != 0)); then
		echo "$1: run as root ($2)" >&2
		exit 2
	fi
}

# install_missing NAME CMD=PACKAGE...: apt-get install each PACKAGE whose
# CMD is not found (also looked for in /usr/sbin), then make sure Go is
# there. The packaged keepalived and MariaDB services are not used (the lab
# runs its own), so they are disabled after an install.
install_missing() {
	local name=$1 pair missing=()
	shift
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null || [[ -x /usr/sbin/${pair%%=*} ]] || missing+=("${pair#*=}")
	done
	if ((${#missing[@]})); then
		echo "$name: installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		systemctl disable --now keepalived mariadb >/dev/null 2>&1 || true
	fi
	command -v go >/dev/null || {
		echo "$name: go is not on PATH (install Go 1.26 or newer)" >&2
		exit 2
	}
}

# build_lab_tools NAME: build hacheck and hacheck-lab into a fresh $work
# directory, removed on exit (also on Ctrl-C). It is under /run, root-owned
# and not world-writable: keepalived's enable_script_security refuses
# scripts below a writable directory such as /tmp.
build_lab_tools() {
	work=$(mktemp -d "/run/hacheck-$1.XXXXXX")
	chmod 755 "$work"
	trap cleanup_lab_tools EXIT
	trap 'exit 130' INT TERM
	echo "$1: building hacheck and hacheck-lab"
	# As scripts/package.sh builds them: static, stripped.
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/" ./cmd/hacheck ./cmd/hacheck-front ./cmd/hacheck-lab
}

cleanup_lab_tools() {
	# The tools tear their labs down themselves; this catches one killed hard.
	[[ -x $work/hacheck-lab ]] && "$work/hacheck-lab" down --orphans >/dev/null 2>&1 || true
	rm -rf "$work"
}
