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

. scripts/lib.sh
require_root demo.sh "network namespaces, keepalived, MariaDB"
install_missing demo.sh ip=iproute2 keepalived=keepalived mariadbd=mariadb-server
build_lab_tools demo
"$work/hacheck-lab" demo --hacheck "$work/hacheck" "$@"
