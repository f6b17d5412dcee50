#!/usr/bin/env bash
# Benchmark: what one `hacheck check` process costs, next to the shell
# health scripts it replaces. keepalived runs the check every second on
# every node, so this is hacheck's fixed cost per poll.
#
#   scripts/bench-check.sh                    # RUNS=500 per command (CI=true: 50)
#   RUNS=2000 scripts/bench-check.sh
#   HACHECK=/path/to/hacheck scripts/bench-check.sh     # time that build instead of this tree's
#   COMPARE=/path/to/old/hacheck scripts/bench-check.sh  # add a row for another build, same run
#
# The node has a state file (up) and no live checks. Side by side, in one
# hyperfine run (so the machine's load hits all alike):
#   - hacheck check --config FILE
#   - sh -c 'read x < flag; [ "$x" = true ]'  (shell builtins only: one process)
#   - a #!/bin/sh script running [ "$(cat flag)" = true ]  (the usual one: two processes)
#   - go floor: a static Go program that reads the state file and prints a
#     line, nothing else: the floor of any check written in Go
#   - /bin/true: the floor of starting any process
# Prints mean, median, p95, max and user+system CPU per run. Needs no root.
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
hacheck=${HACHECK:-}
if [[ -z $hacheck ]]; then
	# As the README's install builds it: static, no dynamic loader per start.
	CGO_ENABLED=0 go build -o "$work/hacheck" ./cmd/hacheck
	hacheck=$work/hacheck
fi
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
echo true >"$work/flag"
cat >"$work/health.sh" <<SH
#!/bin/sh
[ "\$(cat $work/flag 2>/dev/null)" = true ]
SH
chmod 755 "$work/health.sh"
# Every command must pass before it is timed.
"$hacheck" check --config "$work/hacheck.yaml" >/dev/null
compare=()
if [[ -n ${COMPARE:-} ]]; then
	"$COMPARE" check --config "$work/hacheck.yaml" >/dev/null
	compare=(-n "hacheck check ($COMPARE)" "$COMPARE check --config $work/hacheck.yaml")
fi
sh -c "read x < $work/flag; [ \"\$x\" = true ]"
"$work/health.sh"
"$work/floor/floor" "$work/state/state.json" >/dev/null

hyperfine -N --style none --warmup 20 --runs "$RUNS" --export-json "$work/check.json" \
	-n 'hacheck check' "$hacheck check --config $work/hacheck.yaml" "${compare[@]}" \
	-n "sh -c 'read x < flag; [ \"\$x\" = true ]'" "sh -c 'read x < $work/flag; [ \"\$x\" = true ]'" \
	-n 'shell script [ "$(cat flag)" = true ]' "$work/health.sh" \
	-n 'go floor: read the state file, print a line' "$work/floor/floor $work/state/state.json" \
	-n '/bin/true' /bin/true >/dev/null 2>"$work/hyperfine.err" || {
	cat "$work/hyperfine.err" >&2
	exit 1
}

echo "## Cost of one check process ($RUNS runs each, hyperfine, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| command | mean | median | p95 | max | user+sys CPU |"
echo "|:---|---:|---:|---:|---:|---:|"
jq -r '.results[] |
	(.times | sort) as $t |
	def ms: . * 1000 * 100 | round / 100 | tostring + " ms";
	"| `\(.command)` | \(.mean | ms) | \(.median | ms) | \($t[(($t | length) * 0.95 | ceil) - 1] | ms) | \(.max | ms) | \((.user + .system) | ms) |"' \
	"$work/check.json"
echo
echo "user+sys CPU can exceed the wall time: the Go runtime starts several threads."
