#!/usr/bin/env bash
# Benchmark: GET /healthz of `hacheck serve` with a galera check, next to a
# clustercheck-style script (scripts/clustercheck-style.sh: bash and the
# mysql client per request) behind socat, and the bare net/http floor, all
# on the same MariaDB Galera node (a one-node cluster on 127.0.0.1):
# requests/s, p50/p99 and the database's queries per second during each run.
#
#   scripts/bench-galera.sh                       # 3 rounds of 10 s runs, 4 and 64 connections
#   DURATION=20s CONNS="8 128" ROUNDS=5 scripts/bench-galera.sh
#
# It is scripts/bench-healthz.sh with GALERA=1; see there for the method.
set -euo pipefail
cd "$(dirname "$0")/.."
GALERA=1 exec scripts/bench-healthz.sh "$@"
