#!/bin/bash
# e2e: zero downtime (issue 11).  App A is under continuous load through
# the apps site (two wrk clients: keep-alive connections, and a new
# connection per request) while apps B..G are deployed, restarted, edited
# (route restrictions) and deleted through the API: every change re-renders
# the nginx include and reloads nginx.  Not one request to A may fail.
# Real nginx, workers, agent and Docker; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
trap e2e_finish EXIT

if ! curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1 &&
    ! command -v dockerd >/dev/null; then
	echo "1..0 # SKIP no Docker"
	exit 0
fi
if ! command -v wrk >/dev/null; then
	echo "1..0 # SKIP wrk is not installed"
	exit 0
fi
NAPPS=${ZD_APPS:-6}
export SLIPWAY_START_TIMEOUT=20 SLIPWAY_WORKERS=4
stack_start || exit 1
agent_setup || exit 1
WRKS=
zd_finish() {
	local p
	for p in $WRKS $SAMPLER; do kill "$p" 2>/dev/null; done
	agent_finish
}
trap zd_finish EXIT
TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"

mk_app "$T/app" 'exec /bin/busybox httpd -f -p $PORT -h /www'
zip_dir "$T/app" "$T/app.zip"
is "$(upload "$TOK" "$T/app.zip" app-a)" 202 "upload A"
A=$(jget 'd["app_id"]')
is "$(app_wait "$A" 'running|error' 60)" running "A running"
is "$(wait_200 "$APPS/apps/$A/" 5)" 200 "A served"

# Load on A until the changes are done (at most 120 s).
wrk -t1 -c4 -d120s --timeout 10s "$APPS/apps/$A/" >"$T/wrk-keepalive.txt" 2>&1 &
WRK_KA=$!
wrk -t1 -c4 -d120s --timeout 10s -H 'Connection: close' "$APPS/apps/$A/" >"$T/wrk-close.txt" 2>&1 &
WRK_CL=$!
WRKS="$WRK_KA $WRK_CL"
SAMPLER=
sleep 1
t0=$(date +%s)
NM=$(cat "$T/var/run/nginx.pid")
# The workers of the nginx master, sampled: each reload starts new ones.
( while :; do pgrep -P "$NM"; sleep 0.05; done >"$T/workers.txt" 2>/dev/null ) &
SAMPLER=$!

IDS=
for i in $(seq 1 "$NAPPS"); do
	st=$(upload "$TOK" "$T/app.zip" "app-b$i")
	[ "$st" = 202 ] || { ok 1 "upload B$i ($st)"; continue; }
	IDS="$IDS $(jget 'd["app_id"]')"
done
is "$(echo $IDS | wc -w)" "$NAPPS" "$NAPPS apps uploaded while A is under load"
for id in $IDS; do
	is "$(app_wait "$id" 'running|error' 60)" running "$id running"
	is "$(wait_200 "$APPS/apps/$id/" 5)" 200 "$id served"
done
for id in $IDS; do
	is "$(api POST "/restart/$id" -H "$AUTH")" 202 "restart $id"
done
for id in $IDS; do
	is "$(wait_200 "$APPS/apps/$id/" 20)" 200 "$id served after restart"
done
for id in $IDS; do
	is "$(api POST /edit_app -H "$AUTH" -d "app_id=$id" -d 'auth_header=Bearer zd-secret')" 200 "$id: auth_header set"
done
for id in $IDS; do
	settled "$APPS/apps/$id/" 401
	ok $? "$id now asks for the header"
done
for id in $IDS; do
	is "$(api DELETE "/apps/$id" -H "$AUTH")" 204 "delete $id"
done
for id in $IDS; do
	app_gone "$id" 30
	ok $? "$id gone"
done
for id in $IDS; do
	settled "$APPS/apps/$id/" 404
	ok $? "$id's route gone"
done
secs=$(( $(date +%s) - t0 ))
sleep 1
kill -INT $WRKS
wait $WRKS
WRKS=
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null
nworkers=$(sort -u "$T/workers.txt" | wc -l)
diag "changes took $secs s; nginx worker processes seen meanwhile: $nworkers"

# wrk's summary: requests, non-2xx/3xx, read errors, other socket errors
wrk_count() {	# FILE -> "requests non2xx read other"
	awk '/requests in/ { r = $1 }
	    /Non-2xx or 3xx/ { n = $NF }
	    /Socket errors/ { gsub(",", ""); rd = $6; o = $4 + $8 + $10 }
	    END { printf "%d %d %d %d\n", r, n, rd, o }' "$1"
}
# A new connection per request: nothing may fail.
read -r nreq nbad nread nerr < <(wrk_count "$T/wrk-close.txt")
diag "wrk (a connection per request): $nreq requests, $nbad non-2xx, $nread read errors, $nerr other errors"
ok $([ "$nreq" -gt 100 ]; echo $?) "A got load: $nreq requests"
is "$nbad" 0 "no non-2xx answer to A"
is "$((nread + nerr))" 0 "no connection error on A"
# Keep-alive: no request is answered with an error; an idle kept-alive
# connection is closed by an old nginx worker at a reload (HTTP allows it:
# the client retries on a new connection, as browsers and curl do; wrk
# counts it as a read error).  At most one per connection per reload.
read -r kreq kbad kread kerr < <(wrk_count "$T/wrk-keepalive.txt")
diag "wrk (keep-alive): $kreq requests, $kbad non-2xx, $kread idle connections closed at reloads, $kerr other errors"
ok $([ "$kreq" -gt 100 ]; echo $?) "A got load over keep-alive connections: $kreq requests"
is "$kbad" 0 "no non-2xx answer to A over keep-alive"
is "$kerr" 0 "no timeout, connect or write error over keep-alive"
ok $([ "$kread" -le $((nworkers * 4)) ]; echo $?) "keep-alive connections closed only at reloads ($kread <= $((nworkers * 4)))"
ok $([ "$nworkers" -gt $((2 * NAPPS)) ]; echo $?) "nginx was reloaded under load ($nworkers worker processes)"
is "$(http_code "$APPS/apps/$A/")" 200 "A still served"
