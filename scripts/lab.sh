#!/usr/bin/env bash
# Two-node hacheck lab on network namespaces of this machine, as root:
#
#   scripts/lab.sh up       # MariaDB primary (a) + GTID replica (b), hacheck serve,
#                           # keepalived with examples/keepalived.conf; prints how to use it
#   scripts/lab.sh up --nodes 3   # three nodes: a primary, b and d replicas (see README)
#   scripts/lab.sh status   # who holds the VIP, each node's hacheck status and read_only
#   scripts/lab.sh down     # stops everything and removes every namespace and file
#
# Addresses are from 192.0.2.0/24 inside the lab's own namespaces; nothing is
# sent anywhere else. The binaries are built into /run/hacheck-lab-bin
# (root-owned: keepalived's enable_script_security refuses scripts below a
# world-writable directory such as /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
case $cmd in
up | down | status) shift ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
if ((EUID != 0)); then
	echo "lab.sh: run as root (network namespaces, keepalived)" >&2
	exit 2
fi

bin=/run/hacheck-lab-bin
build() {
	command -v go >/dev/null || { echo "lab.sh: go is not on PATH" >&2; exit 2; }
	for t in ip keepalived mariadbd; do
		command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || {
			echo "lab.sh: $t is missing (apt-get install -y iproute2 keepalived mariadb-server)" >&2
			exit 2
		}
	done
	install -d -m 755 "$bin"
	CGO_ENABLED=0 go build -o "$bin/" ./cmd/hacheck ./cmd/hacheck-front ./cmd/hacheck-lab
}

case $cmd in
up)
	build
	# A failed or interrupted up removes what it built.
	trap '"$bin/hacheck-lab" down --orphans >/dev/null 2>&1 || true' INT TERM
	"$bin/hacheck-lab" up --hacheck "$bin/hacheck" "$@"
	;;
status)
	[[ -x $bin/hacheck-lab ]] || build
	"$bin/hacheck-lab" status "$@"
	;;
down)
	[[ -x $bin/hacheck-lab ]] || build
	"$bin/hacheck-lab" down "$@"
	rm -rf "$bin"
	;;
esac
