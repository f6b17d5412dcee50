#!/usr/bin/env bash
# Benchmark: what does polling GET /healthz cost, for the poller and for the
# database, with hacheck serve versus a clustercheck-style script?
#
#   scripts/bench-healthz.sh                       # 3 rounds of 10 s runs, 4 and 64 connections
#   DURATION=20s CONNS="8 128" ROUNDS=5 scripts/bench-healthz.sh
#
# Side by side, against the same throwaway MariaDB on 127.0.0.1:
#   - floor:        a bare net/http server answering "true" from memory
#                   (cmd/bench-floor): the most any Go HTTP server can do here;
#   - clustercheck: a shell script behind socat (one fork per connection, as
#                   under xinetd) that runs the mysql client on every request;
#   - hacheck:      `hacheck serve` with one mysql check (mode alive, interval 1s).
# wrk (a separate process, 127.0.0.1 only) drives each for DURATION at each
# connection count in CONNS, ROUNDS times, the three interleaved so that a
# noisy neighbour hits them alike; the tables show the median of the rounds
# (errors: the sum). For every run the script reads MariaDB's
# Questions counter before and after, minus its own two reads, and prints
# the database's queries per second: hacheck's should stay at one round of
# checks per interval whatever the poll rate; clustercheck's follows it.
# Prints markdown tables. Everything it starts is stopped, and its temporary
# directory removed, on exit (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-"4 64"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
# With 2 or more CPUs the floor and hacheck run on CPU 0 and wrk on the
# others, so that the load generator does not steal the server's CPU in
# bursts and p99 measures the server (the clustercheck script keeps every
# CPU: pinned it would only look worse). PIN=0 turns this off.
PIN=${PIN:-1}
# GALERA=1 (scripts/bench-galera.sh): the MariaDB is a one-node Galera
# cluster on 127.0.0.1, the clustercheck contender is
# scripts/clustercheck-style.sh (wsrep_local_state per request) and
# hacheck runs a galera check.
GALERA=${GALERA:-0}

server_cpu=()
client_cpu=()
if ((PIN)) && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
	server_cpu=(taskset -c 0)
	client_cpu=(taskset -c "1-$(($(nproc) - 1))")
	(($(nproc) == 2)) && client_cpu=(taskset -c 1)
	THREADS=$(($(nproc) - 1 < THREADS ? $(nproc) - 1 : THREADS))
fi

for bin in go wrk socat curl mariadbd mariadb-install-db mysql; do
	command -v "$bin" >/dev/null || {
		echo "bench-healthz.sh: $bin is not on PATH (apt-get install wrk socat curl mariadb-server mariadb-client)" >&2
		exit 2
	}
done

work=$(mktemp -d /tmp/hacheck-bench-healthz.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a port on 127.0.0.1 that nothing listens on, below the
# ephemeral range (the clients' own ports, which a listener cannot take).
ephemeral_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((10000 + RANDOM % (ephemeral_low - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "bench-healthz.sh: no free port found on 127.0.0.1" >&2
	return 1
}

# wait_http URL: until URL answers 200, at most 15 s.
wait_http() {
	for _ in $(seq 1 150); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true) == 200 ]] && return 0
		sleep 0.1
	done
	echo "bench-healthz.sh: $1 did not answer 200 within 15 s" >&2
	return 1
}

echo "bench-healthz.sh: building hacheck and the floor server" >&2
go build -o "$work/" ./cmd/hacheck ./cmd/bench-floor

# ---- MariaDB ----------------------------------------------------------------
my_port=$(free_port)
mkdir -p "$work/mysql"
cat >"$work/my.cnf" <<CNF
[mysqld]
$( ((EUID == 0)) && echo user=root)
datadir=$work/mysql/data
socket=$work/mysql/mysqld.sock
pid-file=$work/mysql/mysqld.pid
log-error=$work/mysql/error.log
bind-address=127.0.0.1
port=$my_port
skip-name-resolve
performance-schema=OFF
innodb-buffer-pool-size=32M
max-connections=300
CNF
if ((GALERA)); then
	[[ -e /usr/lib/galera/libgalera_smm.so ]] || { echo "bench-healthz.sh: GALERA=1 needs galera-4 (apt-get install galera-4)" >&2; exit 2; }
	# A cluster of one, bootstrapped by the empty gcomm://; its group port
	# on 127.0.0.1 only.
	cat >>"$work/my.cnf" <<CNF
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=bench-$$
wsrep_cluster_address=gcomm://
wsrep_node_address=127.0.0.1
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$(free_port);gcache.size=16M"
binlog_format=ROW
innodb_autoinc_lock_mode=2
CNF
fi
echo "bench-healthz.sh: starting MariaDB on 127.0.0.1:$my_port" >&2
mariadb-install-db --defaults-file="$work/my.cnf" --auth-root-authentication-method=normal \
	--skip-test-db >"$work/mysql/install.log" 2>&1 || {
	cat "$work/mysql/install.log" >&2
	exit 1
}
mariadbd --defaults-file="$work/my.cnf" >/dev/null 2>&1 &
pids+=($!)
# root over the socket, for setup and the counters.
cat >"$work/root.cnf" <<CNF
[client]
user=root
socket=$work/mysql/mysqld.sock
CNF
for i in $(seq 1 300); do
	mysql --defaults-file="$work/root.cnf" -e 'SELECT 1' >/dev/null 2>&1 && break
	((i == 300)) && { echo "bench-healthz.sh: MariaDB did not start within 30 s:" >&2; tail -n 20 "$work/mysql/error.log" >&2; exit 1; }
	sleep 0.1
done
# The account both contenders use over TCP: SELECT 1 needs no privilege.
mysql --defaults-file="$work/root.cnf" -e \
	"CREATE USER 'bench'@'127.0.0.1' IDENTIFIED BY 'bench-secret'"
cat >"$work/client.cnf" <<CNF
[client]
user=bench
password=bench-secret
host=127.0.0.1
port=$my_port
connect-timeout=2
CNF

# questions prints MariaDB's Questions counter (statements sent by clients).
questions() {
	mysql --defaults-file="$work/root.cnf" -N -B -e "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'
}
# What reading the counter itself adds, so each run can subtract its own
# two reads.
q0=$(questions)
q1=$(questions)
own=$((q1 - q0))

# ---- the three servers ----------------------------------------------------------
floor_port=$(free_port)
"${server_cpu[@]}" "$work/bench-floor" -listen "127.0.0.1:$floor_port" &
pids+=($!)

cc_port=$(free_port)
cc_env=()
if ((GALERA)); then
	# For the script only: the mysql client itself reads MYSQL_HOST.
	cc_env=(MYSQL_USERNAME=bench MYSQL_PASSWORD=bench-secret MYSQL_HOST=127.0.0.1 MYSQL_PORT=$my_port TIMEOUT=2)
	cp scripts/clustercheck-style.sh "$work/clustercheck.sh"
else
cat >"$work/clustercheck.sh" <<SH
#!/usr/bin/env bash
# clustercheck-style: one connection, one request, one mysql client run.
set -uo pipefail
while IFS= read -r -t 2 line; do
	line=\${line%\$'\r'}
	[[ -z \$line ]] && break
done
if [[ \$(mysql --defaults-file=$work/client.cnf -N -B -e 'SELECT 1' 2>/dev/null) == 1 ]]; then
	printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 5\r\n\r\ntrue\n'
else
	printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 6\r\n\r\nfalse\n'
fi
SH
fi
chmod 755 "$work/clustercheck.sh"
# Not pinned: it forks bash and the mysql client per request and would be
# slower on one CPU; leaving it both CPUs only flatters the baseline.
env "${cc_env[@]}" socat "TCP4-LISTEN:$cc_port,bind=127.0.0.1,reuseaddr,fork,backlog=512" "EXEC:$work/clustercheck.sh" 2>"$work/socat.log" &
pids+=($!)

hc_port=$(free_port)
mkdir -p "$work/state"
cat >"$work/hacheck.yaml" <<YAML
node: bench
state_dir: $work/state
listen: 127.0.0.1:$hc_port
log_level: warn
# The DSN on the check, not mysql.dsn: mysql.dsn also makes drain and
# undrain manage the server (read_only), which this benchmark does not need.
checks:
  - name: db
$( ((GALERA)) && echo "    type: galera" || printf '    type: mysql\n    mode: alive')
    dsn: "bench:bench-secret@tcp(127.0.0.1:$my_port)/?timeout=1s&readTimeout=2s"
    timeout: 500ms
    interval: 1s
YAML
"$work/hacheck" undrain --config "$work/hacheck.yaml" >/dev/null
hacheck_pid=
start_hacheck() {
	"${server_cpu[@]}" "$work/hacheck" serve --config "$work/hacheck.yaml" 2>"$work/serve.log" &
	hacheck_pid=$!
	pids+=("$hacheck_pid")
	wait_http "http://127.0.0.1:$hc_port/healthz" || { cat "$work/serve.log" >&2; exit 1; }
	# let the checks settle into their interval before measuring
	sleep 2
}
stop_hacheck() {
	kill "$hacheck_pid"
	wait "$hacheck_pid" 2>/dev/null || true
}

wait_http "http://127.0.0.1:$floor_port/healthz"
wait_http "http://127.0.0.1:$cc_port/healthz"

# wrk reports requests, duration (µs), p50 and p99 (µs), socket errors and
# non-2xx/3xx answers on one line.
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("BENCH %d %d %.0f %.0f %d %d\n", summary.requests, summary.duration,
		latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
LUA

# Per name:connections, the rounds' figures as space-separated lists.
declare -A rps p50 p99 sockerr non2xx qps
# run NAME URL CONNS
run() {
	local name=$1 url=$2 c=$3 t=$THREADS k=$1:$3 out line before after t0 t1
	((t > c)) && t=$c
	echo "bench-healthz.sh: round $round: $name, $c connections, $DURATION" >&2
	before=$(questions)
	t0=$(date +%s.%N)
	out=$("${client_cpu[@]}" wrk -t "$t" -c "$c" -d "$DURATION" --timeout 5s -s "$work/report.lua" "$url")
	t1=$(date +%s.%N)
	after=$(questions)
	line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; exit 1; }
	read -r _ n us l50 l99 se st <<<"$line"
	rps[$k]+=" $(awk -v n="$n" -v us="$us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')"
	p50[$k]+=" $(awk -v v="$l50" 'BEGIN { printf "%.2f", v / 1000 }')"
	p99[$k]+=" $(awk -v v="$l99" 'BEGIN { printf "%.2f", v / 1000 }')"
	sockerr[$k]+=" $se"
	non2xx[$k]+=" $st"
	qps[$k]+=" $(awk -v q="$((after - before - own))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", q / (b - a) }')"
}

for round in $(seq 1 "$ROUNDS"); do
	for c in $CONNS; do
		run floor "http://127.0.0.1:$floor_port/healthz" "$c"
		run clustercheck "http://127.0.0.1:$cc_port/healthz" "$c"
		# hacheck runs only for its own runs, so its checks do not count
		# in the others' query rates.
		start_hacheck
		run hacheck "http://127.0.0.1:$hc_port/healthz" "$c"
		stop_hacheck
	done
done

# median of a space-separated list; sum of one.
median() {
	tr ' ' '\n' <<<"$2" | grep . | sort -g | awk -v f="$1" '{ a[NR] = $1 }
		END { printf f, (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
sum() { tr ' ' '\n' <<<"$1" | awk '{ s += $1 } END { print s + 0 }'; }
for k in "${!rps[@]}"; do
	rps[$k]=$(median %.0f "${rps[$k]}")
	p50[$k]=$(median %.2f "${p50[$k]}")
	p99[$k]=$(median %.2f "${p99[$k]}")
	qps[$k]=$(median %.1f "${qps[$k]}")
	sockerr[$k]=$(sum "${sockerr[$k]}")
	non2xx[$k]=$(sum "${non2xx[$k]}")
done

label() {
	case $1 in
	floor) echo "floor: bare net/http, answer from memory" ;;
	clustercheck) echo "clustercheck-style: socat + mysql client per request" ;;
	hacheck) ((GALERA)) && echo "hacheck serve, galera check every 1 s" || echo "hacheck serve, mysql check every 1 s" ;;
	esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cpus=$(nproc)
echo
pinning="not pinned"
((${#server_cpu[@]})) && pinning="floor and hacheck on CPU 0, wrk on CPU ${client_cpu[*]: -1}"
echo "## GET /healthz under wrk (median of $ROUNDS runs of $DURATION, up to $THREADS wrk threads, $cpus CPUs, $pinning, 127.0.0.1)"
echo
echo "| server | connections | requests/s | p50 ms | p99 ms | socket errors | non-2xx | MySQL queries/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for c in $CONNS; do
	for name in floor clustercheck hacheck; do
		k=$name:$c
		echo "| $(label "$name") | $c | ${rps[$k]} | ${p50[$k]} | ${p99[$k]} | ${sockerr[$k]} | ${non2xx[$k]} | ${qps[$k]} |"
	done
done
echo
echo "| connections | hacheck / floor requests/s (target >= 0.70) | hacheck p99 / floor p99 (target <= 1.5) | hacheck / clustercheck requests/s (target >= 100) |"
echo "|---:|---:|---:|---:|"
for c in $CONNS; do
	echo "| $c | $(ratio "${rps[hacheck:$c]}" "${rps[floor:$c]}") | $(ratio "${p99[hacheck:$c]}" "${p99[floor:$c]}") | $(ratio "${rps[hacheck:$c]}" "${rps[clustercheck:$c]}") |"
done
echo
echo "MySQL queries/s are MariaDB's Questions counter over each run, minus the script's own reads;"
if ((GALERA)); then
	echo "hacheck's galera check runs two statements per interval, whatever the poll rate; the MariaDB is a one-node Galera cluster."
else
	echo "hacheck's mysql check runs one query per interval, whatever the poll rate."
fi
bad=0
for c in $CONNS; do
	for name in floor hacheck; do
		if ((${non2xx[$name:$c]} > 0)); then
			echo "bench-healthz.sh: WARNING: $name answered ${non2xx[$name:$c]} non-2xx at $c connections: the run is not valid" >&2
			bad=1
		fi
	done
done
exit $bad
