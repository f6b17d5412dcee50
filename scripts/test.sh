#!/usr/bin/env bash
# Run every hacheck test on a fresh Debian machine, as root.
#
# Installs what the tests need (keepalived, HAProxy, MariaDB, galera-4, rsync, wrk, hyperfine,
# iproute2) when it is missing, then runs go vet and the whole go test suite.
# Tests that need root, keepalived or MariaDB fail with a message when CI is
# set and a prerequisite is missing; without CI they skip.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(keepalived haproxy mariadb-server mariadb-client galera-4 rsync wrk hyperfine socat iproute2 iputils-ping procps)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if ((EUID != 0)); then
		echo "test.sh: missing packages: ${missing[*]}; run as root (or install them) first" >&2
		exit 2
	fi
	echo "test.sh: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "test.sh: go is not on PATH (install Go ${GOVERSION:-1.26} or newer)" >&2; exit 2; }

echo "test.sh: go vet"
go vet ./...
# -p 1: the end-to-end tests measure failover timings on a 2-core machine;
# running packages one at a time keeps those figures honest.
echo "test.sh: go test"
go test -count=1 -p 1 -timeout 75m "$@" ./...
