#!/usr/bin/env bash
# Benchmark: what one `hacheck check` process costs, next to the shell
# health scripts it replaces. keepalived runs the check every second on
# every node, so this is hacheck's fixed cost per poll.
#
#   scripts/bench-check.sh                    # RUNS=500 per command (CI=true: 50)
#   RUNS=2000 scripts/bench-check.sh
#   HACHECK=/path/to/hacheck scripts/bench-check.sh     # that build of the full program (cmd/hacheck) behind this tree's front
#   COMPARE=/path/to/old/hacheck scripts/bench-check.sh  # add a row for another build, same run
#
# Installed as the package installs them: /usr/sbin/hacheck is the lean
# front (cmd/hacheck-front), which answers a state-only check itself and
# runs the full program (/usr/lib/hacheck/hacheck) otherwise. The node has
# a state file (up) and no live checks. Side by side, in one hyperfine run
# (so the machine's load hits all alike):
#   - hacheck check --config FILE  (what keepalived runs: the front)
#   - hacheck-check --config FILE  (the state-only binary)
#   - lib/hacheck/hacheck check --config FILE  (the full program alone, as
#     `go build ./cmd/hacheck` gives it)
#   - a #!/bin/sh script running [ "$(cat flag)" = true ]  (the usual one: two processes)
#   - a #!/bin/sh script running read x < flag; [ "$x" = true ]  (builtins only: one process)
#   - go floor: a static Go program that reads the state file and prints a
#     line, nothing else: the floor of any check written in Go
#   - /bin/true: the floor of starting any process
#   - the front and the full program on a node with one exec check
#     (/bin/true), where the front runs the full program: what that costs
# Prints mean ± sd, p50, p95, max and user+system CPU per run, then the
# page faults and binary size of each, and the load before and after.
# Needs no root. The machine's other work shows in every row: run it
# several times and compare rows of one run, not figures across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n ${CI:-} ]]; then RUNS=${RUNS:-50}; else RUNS=${RUNS:-500}; fi
for tool in hyperfine jq go; do
	command -v "$tool" >/dev/null || {
		echo "bench-check.sh: $tool is not on PATH (apt-get install hyperfine jq; Go 1.26)" >&2
		exit 2
	}
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hacheck-bench-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
# As scripts/package.sh builds and installs them: static, stripped; the
# lean front as sbin/hacheck, the full program as lib/hacheck/hacheck (where
# the front runs it from), hacheck-check next to the front.
mkdir -p "$work/sbin" "$work/lib/hacheck"
full=$work/lib/hacheck/hacheck
if [[ -n ${HACHECK:-} ]]; then
	ln -s "$(realpath "$HACHECK")" "$full"
else
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$full" ./cmd/hacheck
fi
hacheck=$work/sbin/hacheck
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$hacheck" ./cmd/hacheck-front
lean=$work/sbin/hacheck-check
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$lean" ./cmd/hacheck-check
mkdir -p "$work/floor"
cat >"$work/floor/main.go" <<'GO'
package main

import "os"

func main() {
	if b, err := os.ReadFile(os.Args[1]); err != nil || len(b) == 0 {
		os.Exit(1)
	}
	os.Stdout.WriteString("OK: up\n")
}
GO
(cd "$work/floor" && printf 'module floor\n\ngo 1.26\n' >go.mod && CGO_ENABLED=0 go build -o floor .)
mkdir -p "$work/state"
cat >"$work/hacheck.yaml" <<YAML
node: bench
state_dir: $work/state
checks: []
YAML
"$hacheck" undrain --config "$work/hacheck.yaml" >/dev/null
# A node with one live check: hacheck-check hands it to hacheck check.
mkdir -p "$work/state-live"
cat >"$work/live.yaml" <<YAML
node: bench
state_dir: $work/state-live
checks: [{name: t, type: exec, command: [/bin/true]}]
YAML
"$hacheck" undrain --config "$work/live.yaml" >/dev/null
"$lean" --config "$work/live.yaml" >/dev/null
echo true >"$work/flag"
cat >"$work/health.sh" <<SH
#!/bin/sh
[ "\$(cat $work/flag 2>/dev/null)" = true ]
SH
cat >"$work/read.sh" <<SH
#!/bin/sh
read x <$work/flag && [ "\$x" = true ]
SH
chmod 755 "$work/health.sh" "$work/read.sh"
# Every command must pass before it is timed, and the front and
# hacheck-check must answer on their own (not hand the check on).
"$hacheck" check --config "$work/hacheck.yaml" >/dev/null
"$full" check --config "$work/hacheck.yaml" >/dev/null
"$lean" --config "$work/hacheck.yaml" >/dev/null
if command -v strace >/dev/null; then
	for cmd in "$hacheck check" "$lean"; do
		# shellcheck disable=SC2086 # $cmd is a command and its subcommand
		strace -f -e trace=execve -o "$work/execs" $cmd --config "$work/hacheck.yaml" >/dev/null
		[[ $(grep -c 'execve(' "$work/execs") == 1 ]] || {
			echo "bench-check.sh: $cmd handed $work/hacheck.yaml to the full program" >&2
			exit 1
		}
	done
fi
if [[ -n ${COMPARE:-} ]]; then
	"$COMPARE" check --config "$work/hacheck.yaml" >/dev/null
fi
"$work/health.sh"
"$work/read.sh"
"$work/floor/floor" "$work/state/state.json" >/dev/null

# hyperfine runs one command's runs after another's; on a shared machine
# the load drifts in the meantime. So the runs are split into ROUNDS
# rounds, each with the commands in another order, and pooled per command.
ROUNDS=${ROUNDS:-5}
names=('hacheck check' 'hacheck-check' 'full program alone: lib/hacheck/hacheck check'
	'shell script [ "$(cat flag)" = true ]'
	'shell script read x < flag; [ "$x" = true ]' 'go floor: read the state file, print a line' '/bin/true'
	'hacheck check, one exec check (the front runs the full program)' 'full program alone, one exec check')
cmds=("$hacheck check --config $work/hacheck.yaml" "$lean --config $work/hacheck.yaml" "$full check --config $work/hacheck.yaml"
	"$work/health.sh" "$work/read.sh" "$work/floor/floor $work/state/state.json" /bin/true
	"$hacheck check --config $work/live.yaml" "$full check --config $work/live.yaml")
if [[ -n ${COMPARE:-} ]]; then
	names+=("hacheck check ($COMPARE)")
	cmds+=("$COMPARE check --config $work/hacheck.yaml")
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < ROUNDS; r++)); do
	args=()
	for ((k = 0; k < ${#names[@]}; k++)); do
		i=$(((k + r) % ${#names[@]}))
		args+=(-n "${names[i]}" "${cmds[i]}")
	done
	hyperfine -N --style none --warmup 10 --runs $(((RUNS + ROUNDS - 1) / ROUNDS)) \
		--export-json "$work/round$r.json" "${args[@]}" >/dev/null 2>"$work/hyperfine.err" || {
		cat "$work/hyperfine.err" >&2
		exit 1
	}
done
jq -s --argjson order "$(printf '%s\n' "${names[@]}" | jq -R . | jq -s .)" '
	[.[].results[]] | group_by(.command) | map({
		command: .[0].command,
		times: (map(.times) | add),
		user: (map(.user) | add / length),
		system: (map(.system) | add / length)
	}) | map(. + {mean: (.times | add / length)}) |
	map(. as $c | . + {stddev: (($c.times | map(. - $c.mean | . * .) | add / length) | sqrt)}) |
	sort_by(.command as $n | $order | index($n)) | {results: .}' "$work"/round*.json >"$work/check.json"

echo "## Cost of one check process ($RUNS runs each in $ROUNDS rounds, hyperfine, $(nproc) CPUs, load $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after)"
echo
echo "| command | mean ± sd | p50 | p95 | max | user+sys CPU |"
echo "|:---|---:|---:|---:|---:|---:|"
jq -r '.results[] |
	(.times | sort) as $t |
	def ms: . * 1000 * 100 | round / 100 | tostring + " ms";
	def pct($p): $t[(($t | length) * $p | ceil) - 1];
	"| `\(.command)` | \(.mean | ms) ± \(.stddev | ms) | \(pct(0.5) | ms) | \(pct(0.95) | ms) | \($t[-1] | ms) | \((.user + .system) | ms) |"' \
	"$work/check.json"
echo
echo "user+sys CPU can exceed the wall time: the Go runtime starts several threads."
echo
# Page faults: a Go binary's start touches pages of its code and data in
# proportion to what it links and initialises.
faults() {
	local sum=0 i
	for i in $(seq 20); do
		sum=$((sum + $(/usr/bin/time -f %R "$@" 2>&1 >/dev/null | tail -1)))
	done
	echo $((sum / 20))
}
if [[ -x /usr/bin/time ]]; then
	echo "| command | minor page faults per run | binary |"
	echo "|:---|---:|---:|"
	size() { echo "$(($(stat -c %s "$1") / 1024)) KiB"; }
	echo "| \`hacheck check\` (the front) | $(faults "$hacheck" check --config "$work/hacheck.yaml") | $(size "$hacheck") |"
	echo "| \`hacheck-check\` | $(faults "$lean" --config "$work/hacheck.yaml") | $(size "$lean") |"
	echo "| full program alone \`check\` | $(faults "$full" check --config "$work/hacheck.yaml") | $(size "$(realpath "$full")") |"
	echo "| shell script \`[ \"\$(cat flag)\" = true ]\` (sh and cat) | $(faults "$work/health.sh") | |"
	echo "| go floor | $(faults "$work/floor/floor" "$work/state/state.json") | $(size "$work/floor/floor") |"
fi
