#!/usr/bin/env bash
# Benchmark: how fast does the VIP move when a node is drained, with hacheck
# versus the common polled shell health script, and what does one check
# cost?
#
#   sudo scripts/bench-failover.sh            # RUNS=10 moves per setup
#   RUNS=20 COST_RUNS=1000 sudo scripts/bench-failover.sh
#
# Part 1 builds a two-node keepalived pair on network namespaces of this
# machine (addresses from 192.0.2.0/24, nothing leaves the machine) and moves
# the VIP back and forth RUNS times per setup:
#   - hacheck: `hacheck drain` (track file, weight 0) + `hacheck check` every 1 s;
#   - shell:   a vrrp_script `[ "$(cat flag)" = true ]`, interval 2, fall 2,
#              no track file; the flag file is flipped to false;
# both with the same keepalived settings otherwise (nopreempt, advert_int 1,
# the lab's priorities 254/253), next to VRRP's floor, the skew time.
# Part 2 measures one `hacheck check` process against that shell script
# with hyperfine.
# Prints markdown tables. Needs root; installs keepalived and hyperfine
# when missing. Everything it creates is removed on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
COST_RUNS=${COST_RUNS:-500}

. scripts/lib.sh
require_root bench-failover.sh "network namespaces, keepalived"
install_missing bench-failover.sh ip=iproute2 keepalived=keepalived hyperfine=hyperfine
build_lab_tools bench-failover

echo
echo "## Drain -> VIP on the peer ($RUNS moves per setup, alternating a->b and b->a)"
"$work/hacheck-lab" bench-failover --runs "$RUNS" --hacheck "$work/hacheck"

# Part 2: one check process. The same kind of node the lab uses: state up,
# no live checks, so this is hacheck's fixed cost per keepalived poll.
cost=$work/cost
mkdir -p "$cost/state"
cat >"$cost/hacheck.yaml" <<YAML
node: bench
state_dir: $cost/state
checks: []
YAML
"$work/hacheck" undrain --config "$cost/hacheck.yaml" >/dev/null
echo true >"$cost/health.flag"
cat >"$cost/health.sh" <<SH
#!/bin/sh
[ "\$(cat $cost/health.flag 2>/dev/null)" = true ]
SH
chmod 755 "$cost/health.sh"
"$work/hacheck" check --config "$cost/hacheck.yaml" >/dev/null
"$cost/health.sh"

echo
echo "## Cost of one check process ($COST_RUNS runs each, hyperfine)"
hyperfine -N --style basic --warmup 20 --runs "$COST_RUNS" \
	--export-markdown "$work/cost.md" \
	-n 'hacheck check' "$work/hacheck check --config $cost/hacheck.yaml" \
	-n 'shell script ([ "$(cat flag)" = true ])' "$cost/health.sh" >/dev/null
echo
cat "$work/cost.md"
