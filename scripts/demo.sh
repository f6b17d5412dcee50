#!/usr/bin/env bash
# hacheck in two minutes, on this machine, as root (a fresh Debian is fine):
#
#   sudo scripts/demo.sh
#
# Installs what is missing (keepalived, MariaDB, iproute2), builds hacheck,
# and builds a lab on network namespaces: node a (MariaDB primary) and node
# b (GTID replica), each with keepalived running examples/keepalived.conf and
# `hacheck serve`, plus a client. Addresses are from 192.0.2.0/24 inside the
# lab's own namespaces; nothing is sent anywhere else.
# A writer in the client inserts rows through the VIP at a steady rate and
# records every acknowledged id. Then `hacheck drain --follow` on a: fence,
# GTID catch-up on b, flip, VIP to b, b promoted by `hacheck notify`, a
# follows b. The demo prints the timeline and the verdict (VIP move time,
# write-blocked window, writes acknowledged, writes lost) and tears it all
# down, also on failure or Ctrl-C. Exit 1 if any acknowledged write was lost.
set -euo pipefail
cd "$(dirname "$0")/.."

if ((EUID != 0)); then
	echo "demo.sh: run as root (network namespaces, keepalived, MariaDB)" >&2
	exit 2
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v keepalived >/dev/null || need+=(keepalived)
command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || need+=(mariadb-server)
if ((${#need[@]})); then
	echo "demo.sh: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	# The packaged services are not used; the lab runs its own.
	systemctl disable --now keepalived mariadb >/dev/null 2>&1 || true
fi
command -v go >/dev/null || { echo "demo.sh: go is not on PATH (install Go 1.26 or newer)" >&2; exit 2; }

# Root-owned and not world-writable (keepalived's enable_script_security).
work=$(mktemp -d /run/hacheck-demo.XXXXXX)
chmod 755 "$work"
cleanup() {
	# The demo tears its lab down itself; this catches one killed hard.
	[[ -x $work/hacheck-lab ]] && "$work/hacheck-lab" down --orphans >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo.sh: building hacheck"
go build -o "$work/" ./cmd/hacheck ./cmd/hacheck-lab
"$work/hacheck-lab" demo --hacheck "$work/hacheck" "$@"
