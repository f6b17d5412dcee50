#!/usr/bin/env bash
# Benchmark: MySQL cutovers under a steady writer, with hacheck versus the
# usual hand-written runbook.
#
#   sudo scripts/bench-cutover.sh                 # RUNS=10 cutovers per setup
#   RUNS=20 MODES=hacheck,baseline sudo scripts/bench-cutover.sh
#   CONNECT_TIMEOUT=100ms sudo scripts/bench-cutover.sh   # a client that gives up on a connect sooner
#
# Builds a two-node lab on network namespaces of this machine (MariaDB
# primary + GTID replica, keepalived, addresses from 192.0.2.0/24, nothing
# leaves the machine) per setup, runs a writer through the VIP from a client
# namespace (one INSERT every 10 ms, reconnecting on error, every
# acknowledged id recorded) and moves the primary back and forth RUNS times:
#   - hacheck:    `hacheck drain --follow` (fence, GTID catch-up, flip) and
#                 `hacheck notify` promotion, examples/keepalived.conf;
#   - baseline:   polled shell vrrp_script (interval 2, fall 2) and fence,
#                 catch-up, flip, promotion, re-pointing by hand-written SQL;
#   - hacheck-v3, baseline-v3: the same two with VRRPv3, advert_int 0.1.
# Prints a markdown table: drain-to-VIP time, write-blocked window,
# acknowledged and lost writes. Exits non-zero when a write was lost, the VIP
# was on both nodes, or a node was writable without the VIP. Everything it
# creates is removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
MODES=${MODES:-hacheck,baseline,hacheck-v3,baseline-v3}
# The writer's connect timeout: a connection attempt sent to the VIP while it
# moves hangs until it (the old holder drops the SYN), so it adds up to this
# much to the write-blocked window of every setup alike.
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-500ms}

. scripts/lib.sh
require_root bench-cutover.sh "network namespaces, keepalived, MariaDB"
install_missing bench-cutover.sh ip=iproute2 keepalived=keepalived mariadbd=mariadb-server
build_lab_tools bench-cutover
echo
echo "## MySQL cutover under a writer ($RUNS cutovers per setup, alternating a->b and b->a)"
"$work/hacheck-lab" bench-cutover --runs "$RUNS" --modes "$MODES" --connect-timeout "$CONNECT_TIMEOUT" --hacheck "$work/hacheck"
