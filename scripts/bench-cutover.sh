#!/usr/bin/env bash
# Benchmark: MySQL cutovers under a steady writer, with hacheck versus the
# usual hand-written runbook.
#
#   sudo scripts/bench-cutover.sh                 # RUNS=20 cutovers per setup (CI=true: 2)
#   RUNS=4 MODES=hacheck,baseline sudo scripts/bench-cutover.sh
#   WORKLOADS=insert sudo scripts/bench-cutover.sh   # the insert writer alone
#   CONNECT_TIMEOUT=100ms sudo scripts/bench-cutover.sh   # a client that gives up on a connect sooner
#
# Builds a two-node lab on network namespaces of this machine (MariaDB
# primary + GTID replica, keepalived, addresses from 192.0.2.0/24, nothing
# leaves the machine) per setup, and in it, one workload after the other:
#   - insert: a writer through the VIP from a client namespace (one INSERT
#             every 10 ms, reconnecting on error, every acknowledged id
#             recorded);
#   - txn:    the same writer and, beside it, the transactional workload
#             (TXN_THREADS clients, default 8, multi-statement transactions
#             on hot rows: what makes a fence wait for running writes);
# under each it moves the primary back and forth RUNS times:
#   - hacheck:     `hacheck drain --follow` (fence, GTID catch-up, flip) and
#                  `hacheck notify` promotion, examples/keepalived.conf
#                  (priorities 254/253);
#   - hacheck-old: the same with the priorities the example used to ship,
#                  150/100 (the successor waits 0.61 s / 0.41 s of skew time);
#   - baseline:    polled shell vrrp_script (interval 2, fall 2) and fence,
#                  catch-up, flip, promotion, re-pointing by hand-written SQL;
#   - hacheck-v3, baseline-v3 (not in the default MODES): hacheck and the
#                  baseline with VRRPv3, advert_int 0.1.
# Prints a markdown table: p50, p95 and max of drain-to-VIP and of the
# write-blocked window, acknowledged and lost writes; then, per setup and
# workload, a phase table: when each milestone of the move happened (the
# drain's own phases, keepalived's FAULT and MASTER, the VIP leaving and
# arriving, the new holder's ARP at the client, the promotion, the first
# acknowledged write), p50/p95/max over the runs. Exits non-zero when a write was lost, the VIP
# was on both nodes, or a node was writable without the VIP. Everything it
# creates is removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

# Full size by default (a p95 needs 20 runs); a small one in CI.
if [[ -n ${CI:-} ]]; then RUNS=${RUNS:-2}; else RUNS=${RUNS:-20}; fi
MODES=${MODES:-hacheck,hacheck-old,baseline}
WORKLOADS=${WORKLOADS:-insert,txn}
TXN_THREADS=${TXN_THREADS:-8}
# The writer's connect timeout: a connection attempt sent to the VIP while it
# moves hangs until it (the old holder drops the SYN), so it adds up to this
# much to the write-blocked window of every setup alike.
CONNECT_TIMEOUT=${CONNECT_TIMEOUT:-500ms}

. scripts/lib.sh
require_root bench-cutover.sh "network namespaces, keepalived, MariaDB"
install_missing bench-cutover.sh ip=iproute2 keepalived=keepalived mariadbd=mariadb-server
build_lab_tools bench-cutover
echo
echo "## MySQL cutover under a writer ($RUNS cutovers per setup and workload, alternating a->b and b->a)"
"$work/hacheck-lab" bench-cutover --runs "$RUNS" --modes "$MODES" --workloads "$WORKLOADS" --txn-threads "$TXN_THREADS" --connect-timeout "$CONNECT_TIMEOUT" --hacheck "$work/hacheck"
