#!/usr/bin/env bash
# A clustercheck-style Galera health responder, for comparison with hacheck
# (tests and scripts/bench-galera.sh). It follows the rule of the widely
# used clustercheck script: one bash and one mysql client per request,
# 200 when wsrep_local_state is 4 (Synced), or 2 (Donor/Desynced) with
# AVAILABLE_WHEN_DONOR=1; then 503 when read_only is ON and
# AVAILABLE_WHEN_READONLY=0; 503 when MAINTENANCE_FILE exists or the
# server does not answer. It looks at nothing else (not wsrep_desync, not
# wsrep_cluster_status, not wsrep_ready).
#
# Run it per connection behind socat (it reads the request, writes one
# HTTP/1.1 response and closes):
#   socat TCP-LISTEN:9200,reuseaddr,fork EXEC:scripts/clustercheck-style.sh
set -u
MYSQL_USERNAME=${MYSQL_USERNAME:-clustercheckuser}
MYSQL_PASSWORD=${MYSQL_PASSWORD-}
MYSQL_HOST=${MYSQL_HOST:-127.0.0.1}
MYSQL_PORT=${MYSQL_PORT:-3306}
AVAILABLE_WHEN_DONOR=${AVAILABLE_WHEN_DONOR:-0}
AVAILABLE_WHEN_READONLY=${AVAILABLE_WHEN_READONLY:-1}
MAINTENANCE_FILE=${MAINTENANCE_FILE:-/etc/clustercheck.maintenance}
TIMEOUT=${TIMEOUT:-10}

# Consume the request head, if any (stdin is the connection under socat).
while IFS= read -r -t 1 line; do
	[[ $line == $'\r' || -z $line ]] && break
done

reply() { # code reason body
	local body="$3"$'\r\n'
	printf 'HTTP/1.1 %s %s\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
		"$1" "$2" "${#body}" "$body"
	exit 0
}

if [[ -f $MAINTENANCE_FILE ]]; then
	reply 503 "Service Unavailable" "Galera node is in maintenance."
fi

export MYSQL_PWD=$MYSQL_PASSWORD
mysql_q() {
	mariadb --no-defaults -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_USERNAME" \
		--connect-timeout="$TIMEOUT" -sN -e "$1" 2>/dev/null | awk '{print $2}'
}

state=$(mysql_q "SHOW GLOBAL STATUS LIKE 'wsrep_local_state';")
if [[ $state == 4 ]] || [[ $state == 2 && $AVAILABLE_WHEN_DONOR == 1 ]]; then
	if [[ $AVAILABLE_WHEN_READONLY == 0 ]]; then
		ro=$(mysql_q "SHOW GLOBAL VARIABLES LIKE 'read_only';")
		if [[ $ro == ON ]]; then
			reply 503 "Service Unavailable" "Galera node is read-only."
		fi
	fi
	reply 200 OK "Galera node is synced."
fi
reply 503 "Service Unavailable" "Galera node is not synced."
