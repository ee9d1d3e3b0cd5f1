#!/bin/bash
# e2e: faults (issue 11).  kill -9 of a FastCGI worker during an upload, of
# the agent during a build and during a start, of the nginx master; dockerd
# restarted (only a daemon this stack started); the disk full during an
# upload (tmpfs over var/tmp, then over var/uploads); SQLite locked by a
# writer (shorter and longer than the busy timeout) and by a long reader.
# In every case: rows made before the fault survive, nothing stays in a
# transitional state, the database passes integrity_check, and the service
# works afterwards.  Real nginx, workers, agent and Docker; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
trap e2e_finish EXIT

if ! curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1 &&
    ! command -v dockerd >/dev/null; then
	echo "1..0 # SKIP no Docker"
	exit 0
fi
MOUNTS=
umount_all() {
	local m
	for m in $MOUNTS; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	MOUNTS=
}
faults_finish() {
	umount_all
	[ -n "${HOLDER:-}" ] && kill "$HOLDER" 2>/dev/null
	agent_finish
}

export SLIPWAY_START_TIMEOUT=20 SLIPWAY_BUILD_TIMEOUT=60 SLIPWAY_WORKERS=4
# The stack talks to Docker through a proxy this test can cut.
PROXY_DIR=$(mktemp -d /tmp/slipway-dproxy.XXXXXX)
AGENT_CLEANUP_DIRS=$PROXY_DIR
docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
export SLIPWAY_DOCKER_SOCKET=$PROXY_DIR/docker.sock
if curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping 2>/dev/null | grep -q OK; then
	docker_proxy_start "$SLIPWAY_DOCKER_SOCKET" || { echo "Bail out! docker proxy"; exit 1; }
else
	# no daemon yet: the stack starts one behind the proxy
	docker_proxy_start "$SLIPWAY_DOCKER_SOCKET"
	[ -S "$SLIPWAY_DOCKER_SOCKET" ] || { echo "Bail out! docker proxy"; exit 1; }
fi
stack_start || exit 1
agent_setup || exit 1
trap faults_finish EXIT
DATA=$T/var
TOK=$(login admin "$ADMIN_PASSWORD")
like "$TOK" '^[A-Za-z0-9_-]{20,}$' "admin logged in"

# ------------------------------------------------------------ data made before the faults
curl -s -o /dev/null -X POST -d 'username=alice&password=alice-pass-1' "$API/register"
ATOK=$(login alice alice-pass-1)
mk_app "$T/app-x" 'exec /bin/busybox httpd -f -p $PORT -h /www'
zip_dir "$T/app-x" "$T/x.zip"
is "$(upload "$ATOK" "$T/x.zip" keeper)" 202 "alice uploads app X"
X=$(jget 'd["app_id"]')
is "$(app_wait "$X" 'running|error' 60)" running "X running"
is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "X served"
USERS0=$(DB "SELECT group_concat(id || ':' || username || ':' || password_hash, ' ') FROM users")
XROW0=$(DB "SELECT id, app_id, name, owner_id, type, port FROM apps WHERE app_id = '$X'")

# ------------------------------------------------------------ kill -9 of a worker mid-upload
M=$(fcgi_master)
like "$M" '^[0-9]+$' "FastCGI master pid $M"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$T/big.zip"
up0=$(uploads_list); napps0=$(DB "SELECT count(*) FROM apps")
curl -s -o "$T/killed.body" -w '%{http_code}' --limit-rate 3M -m 60 \
    -H "Authorization: Bearer $ATOK" -F "file=@$T/big.zip" -F name=killed \
    "$API/upload" >"$T/killed.code" &
CURL=$!
W=
for _ in $(seq 1 100); do
	for p in $(pgrep -P "$M"); do
		ls -l "/proc/$p/fd" 2>/dev/null | grep -q -- "$DATA/tmp/" && W=$p
	done
	[ -n "$W" ] && break
	sleep 0.05
done
if [ -n "$W" ]; then
	ok 0 "worker $W is receiving the upload"
	sleep 0.5
	kill -9 "$W"
else
	ok 1 "found the worker receiving the upload: killing them all"
	kill -9 $(pgrep -P "$M")
fi
wait "$CURL"
like "$(cat "$T/killed.code")" '^(000|502|503|504)$' "the client sees the upload fail ($(cat "$T/killed.code"))"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "no app row left behind"
is "$(DB "SELECT count(*) FROM apps WHERE name = 'killed'")" 0 "no row named killed"
is "$(uploads_list)" "$up0" "nothing new under var/uploads"
for _ in $(seq 1 30); do grep -q "worker $W killed by signal 9" "$DATA/logs/slipway.log" && break; sleep 0.1; done
like "$(cat "$DATA/logs/slipway.log")" "worker ${W:-[0-9]+} killed by signal 9: starting another" "the master starts another worker"
STALE=$(tmp_list)
diag "left in var/tmp until the next start: ${STALE:-nothing}"
is "$(api GET /status -H "Authorization: Bearer $ATOK")" 200 "the API keeps answering"

# ------------------------------------------------------------ kill -9 of the agent during a build
agent_back() {	# OLD_PID -> prints the new pid
	local np=
	for _ in $(seq 1 100); do
		np=$(agent_pid)
		[ -n "$np" ] && [ "$np" != "$1" ] && kill -0 "$np" 2>/dev/null && break
		sleep 0.1
	done
	echo "$np"
}
mk_app "$T/app-b" 'exec /bin/busybox httpd -f -p $PORT -h /www' '["/bin/busybox", "sleep", "4"]'
zip_dir "$T/app-b" "$T/b.zip"
is "$(upload "$ATOK" "$T/b.zip" slowbuild)" 202 "upload of a slow build"
B=$(jget 'd["app_id"]')
is "$(app_wait "$B" building 20)" building "B building"
sleep 1
ap=$(agent_pid)
kill -9 "$ap"
ok $? "agent $ap killed with SIGKILL during the build"
is "$(http_code "$APPS/apps/$X/")" 200 "X served while the agent is down"
np=$(agent_back "$ap")
ok $([ -n "$np" ] && [ "$np" != "$ap" ]; echo $?) "the supervisor started the agent again (pid $np)"
like "$(grep "agent (pid $ap) died" "$T/up.log")" restarting "the supervisor log says so"
st=$(app_wait "$B" 'running|error' 70)
like "$st" '^(running|error)$' "B ends $st"
if [ "$st" = running ]; then
	is "$(wait_200 "$APPS/apps/$B/" 5)" 200 "B served"
else
	like "$(app_col "$B" status_detail)" '.' "B's error has a reason: $(app_col "$B" status_detail)"
fi
is "$(DB "SELECT count(*) FROM jobs WHERE state = 'running'")" 0 "no job left running"

# ------------------------------------------------------------ kill -9 of the agent during a start
mk_app "$T/app-s" '/bin/busybox sleep 4; exec /bin/busybox httpd -f -p $PORT -h /www'
zip_dir "$T/app-s" "$T/s.zip"
is "$(upload "$ATOK" "$T/s.zip" slowstart)" 202 "upload of a slow start"
S=$(jget 'd["app_id"]')
is "$(app_wait "$S" starting 30)" starting "S starting"
sleep 1
ap=$(agent_pid)
kill -9 "$ap"
ok $? "agent $ap killed with SIGKILL during the start"
np=$(agent_back "$ap")
ok $([ -n "$np" ] && [ "$np" != "$ap" ]; echo $?) "the agent is back (pid $np)"
st=$(app_wait "$S" 'running|error' 40)
like "$st" '^(running|error)$' "S ends $st"
if [ "$st" = running ]; then
	is "$(wait_200 "$APPS/apps/$S/" 5)" 200 "S served"
else
	like "$(app_col "$S" status_detail)" '.' "S's error has a reason: $(app_col "$S" status_detail)"
fi
is "$(docker ps -q --filter "label=slipway.app=$S" | wc -l)" "$([ "$st" = running ] && echo 1 || echo 0)" "one container for S, no stray ones"

# ------------------------------------------------------------ kill -9 of the nginx master
NM=$(cat "$DATA/run/nginx.pid")
like "$NM" '^[0-9]+$' "nginx master $NM"
t0=$(date +%s%N)
kill -9 "$NM"
h=$(fcgi_get /health)
is "$(echo "$h" | head -n 1)" 503 "/health (straight to a worker) answers 503 while nginx is down"
like "$(echo "$h" | tail -n +2)" '"nginx": ?\{ ?"ok": ?false' "and names nginx"
c=000
for _ in $(seq 1 100); do
	c=$(curl -s -o "$T/body" -w '%{http_code}' -m 1 "$API/health")
	[ "$c" = 200 ] && break
	sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$c" 200 "/health through nginx is 200 again ($ms ms)"
ok $([ "$ms" -lt 5000 ]; echo $?) "service back within 5 s ($ms ms)"
like "$(grep "nginx (pid $NM) died" "$T/up.log")" restarting "the supervisor log says nginx died"
NM2=$(cat "$DATA/run/nginx.pid")
ok $([ "$NM2" != "$NM" ] && kill -0 "$NM2"; echo $?) "a new master ($NM2)"
for _ in $(seq 1 50); do [ -z "$(pgrep -g "$NM")" ] && break; sleep 0.1; done
is "$(pgrep -g "$NM" | wc -l)" 0 "no worker of the dead master is left"
is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "X served through the new nginx"
# Two deaths close together: the agent, then nginx while the supervisor
# is still restarting the agent.  Both come back (the supervisor's wait -n
# once missed a child reaped during such a restart and slept forever).
AP=$(cat "$DATA/run/agent.pid"); NM3=$(cat "$DATA/run/nginx.pid")
kill -9 "$AP"; sleep 0.2; kill -9 "$NM3"
c=000
for _ in $(seq 1 100); do
	c=$(curl -s -o /dev/null -w '%{http_code}' -m 1 "$API/health")
	[ "$c" = 200 ] && [ "$(cat "$DATA/run/nginx.pid")" != "$NM3" ] && break
	sleep 0.1
done
is "$c" 200 "agent and nginx killed 0.2 s apart: /health is 200 again"
like "$(grep "nginx (pid $NM3) died" "$T/up.log")" restarting "  the supervisor restarted nginx"
like "$(grep "agent (pid $AP) died" "$T/up.log")" restarting "  and the agent"
# A route change reaches the new master: stop S, its route goes.
if [ "$(app_col "$S" status)" = running ]; then
	is "$(api POST "/stop/$S" -H "Authorization: Bearer $ATOK")" 202 "stop S"
	app_wait "$S" stopped 20 >/dev/null
	settled "$APPS/apps/$S/" '404|502'
	ok $? "the new nginx applies route changes"
fi

# ------------------------------------------------------------ disk full: var/tmp
up0=$(uploads_list); napps0=$(DB "SELECT count(*) FROM apps")
mount -t tmpfs -o size=4m,mode=0750 slipway-faults "$DATA/tmp"
ok $? "a 4 MiB tmpfs over var/tmp"
MOUNTS="$DATA/tmp"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$T/eight.zip"
st=$(upload "$ATOK" "$T/eight.zip" fulltmp)
like "$st" '^(4|5)[0-9][0-9]$' "an 8 MiB upload into it fails ($st)"
like "$(jget 'd["detail"]')" '.' "with a JSON detail: $(jget 'd["code"]') $(jget 'd["detail"]')"
is "$(ls -A "$DATA/tmp" | wc -l)" 0 "nothing left in var/tmp"
is "$(uploads_list)" "$up0" "nothing new under var/uploads"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "no row"
is "$(upload "$ATOK" "$T/x.zip" smallafter)" 202 "a small upload works once space is free"
SA=$(jget 'd["app_id"]')
umount_all

# ------------------------------------------------------------ disk full: var/uploads
up0=$(uploads_list); tmp0=$(tmp_list); napps0=$(DB "SELECT count(*) FROM apps")
mkdir -p "$T/fill"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/fill/one.bin"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$T/fill/two.bin"
cp "$T/app-x/Dockerfile" "$T/fill/"
(cd "$T/fill" && /usr/bin/python3 -c 'import zipfile, sys
with zipfile.ZipFile("../fill.zip", "w", zipfile.ZIP_STORED) as z:
    for f in ("Dockerfile", "one.bin", "two.bin"):
        z.write(f)')
mount -t tmpfs -o size=4m,mode=0750 slipway-faults "$DATA/uploads"
ok $? "a 4 MiB tmpfs over var/uploads"
MOUNTS="$DATA/uploads"
st=$(upload "$ATOK" "$T/fill.zip" fulluploads)
like "$st" '^(4|5)[0-9][0-9]$' "unpacking 6 MiB into it fails ($st)"
like "$(jget 'd["detail"]')" '.' "with a JSON detail: $(jget 'd["code"]') $(jget 'd["detail"]')"
is "$(ls -A "$DATA/uploads" | wc -l)" 0 "the staging directory is removed"
umount_all
is "$(uploads_list)" "$up0" "var/uploads as before"
is "$(tmp_list)" "$tmp0" "nothing new in var/tmp"
is "$(DB "SELECT count(*) FROM apps")" "$napps0" "no row"

# ------------------------------------------------------------ SQLite locked
# (the app deployed above settles first: a lock longer than the agent's
# busy timeout fails the job it is running, with a reason)
is "$(app_wait "$SA" 'running|error' 60)" running "the app uploaded after the disk was full runs"
AP=$(agent_pid)
# hold LOCK_SECS: a sqlite3 process keeps a write (or read) transaction open.
hold() {	# SECS write|read
	rm -f "$T/held"
	{
		echo ".timeout 5000"
		if [ "$2" = write ]; then
			echo "BEGIN IMMEDIATE;"
			echo "INSERT OR REPLACE INTO meta(key, value) VALUES ('faults-held', 1);"
		else
			echo "BEGIN;"
			echo "SELECT count(*) FROM apps;"
		fi
		echo ".shell touch $T/held"
		sleep "$1"
		echo "COMMIT;"
	} | sqlite3 "$DATA/slipway.db" >/dev/null &
	HOLDER=$!
	for _ in $(seq 1 50); do [ -f "$T/held" ] && return 0; sleep 0.05; done
	return 1
}
edit_x() {	# DESCRIPTION -> "status ms"
	local t0 c
	t0=$(date +%s%N)
	c=$(curl -s -o "$T/body" -w '%{http_code}' -m 30 -X POST -H "Authorization: Bearer $ATOK" \
	    -d "app_id=$X" -d "description=$1" "$API/edit_app")
	echo "$c $(( ($(date +%s%N) - t0) / 1000000 ))"
}
hold 3 write
ok $? "a writer holds BEGIN IMMEDIATE for 3 s"
t0=$(date +%s%N)
c=$(api GET /status -H "Authorization: Bearer $ATOK")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$c" 200 "GET /status during the lock ($ms ms)"
read -r c ms < <(edit_x during-short-lock)
is "$c" 200 "POST /edit_app waits for the lock and succeeds ($ms ms)"
ok $([ "$ms" -ge 1500 ]; echo $?) "it waited (busy timeout), not failed ($ms ms)"
wait "$HOLDER"; HOLDER=
is "$(app_col "$X" description)" during-short-lock "the edit is stored"
is "$(DB "SELECT value FROM meta WHERE key = 'faults-held'")" 1 "the holder's write is stored too"

hold 12 write
ok $? "a writer holds the lock beyond the busy timeout (12 s)"
read -r c ms < <(edit_x during-long-lock)
is "$c" 503 "POST /edit_app gives up with 503 ($ms ms)"
like "$(body)" '"detail"' "as JSON: $(body)"
wait "$HOLDER"; HOLDER=
read -r c ms < <(edit_x after-long-lock)
is "$c" 200 "the same edit succeeds afterwards"
is "$(app_col "$X" description)" after-long-lock "and is stored"

hold 3 read
ok $? "a reader holds a read transaction for 3 s"
read -r c ms < <(edit_x during-read)
is "$c" 200 "writes go on beside a long reader ($ms ms)"
ok $([ "$ms" -lt 1500 ]; echo $?) "without waiting for it"
wait "$HOLDER"; HOLDER=
is "$(DB 'PRAGMA integrity_check')" ok "integrity_check ok after the locks"
is "$(app_col "$X" status)" running "X still running"
is "$(agent_pid)" "$AP" "the agent lived through the locks"
is "$(api GET /status -H "Authorization: Bearer $ATOK")" 200 "the API answers"

# ------------------------------------------------------------ Docker's API away
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
AP=$(agent_pid)
docker_proxy_stop
for _ in $(seq 1 50); do grep -q 'event stream ended' "$DATA/logs/slipway.log" && break; sleep 0.1; done
c0=$(cpu_ticks "$AP")
st=$(api GET /health)
is "$st" 503 "/health answers 503 while Docker is away"
is "$(jget 'd["docker"]["ok"]')" False "and names Docker"
is "$(http_code "$APPS/apps/$X/")" 200 "X keeps serving (its container runs)"
is "$(upload "$ATOK" "$T/x.zip" whiledockeraway)" 202 "an upload is accepted meanwhile"
W2=$(jget 'd["app_id"]')
sleep 2
c1=$(cpu_ticks "$AP")
ok $([ $((c1 - c0)) -lt 50 ]; echo $?) "the agent waits without spinning ($((c1 - c0)) CPU ticks in ~2.5 s)"
is "$(app_col "$W2" status)" queued "the new app waits in the queue"
docker_proxy_start "$SLIPWAY_DOCKER_SOCKET"
ok $? "Docker reachable again"
is "$(app_wait "$W2" 'running|error' 60)" running "the queued app deploys once Docker is back"
for _ in $(seq 1 50); do [ "$(api GET /health)" = 200 ] && break; sleep 0.1; done
is "$(api GET /health)" 200 "/health is 200 again"
is "$(agent_pid)" "$AP" "the same agent throughout"

# ------------------------------------------------------------ dockerd restarted
if [ -n "$DOCKERD_PID" ]; then
	diag "restarting the dockerd this test started (pid $DOCKERD_PID)"
	docker_restart_owned
	ok $? "dockerd restarted"
	is "$(wait_200 "$APPS/apps/$X/" 60)" 200 "X is back after dockerd restarted"
	is "$(app_wait "$X" running 30)" running "X running"
	[ -n "$SA" ] && is "$(wait_200 "$APPS/apps/$SA/" 30)" 200 "a second app is back too"
else
	ok 0 "dockerd restarted with apps running # SKIP shared daemon (never restarted)"
fi

# ------------------------------------------------------------ next start: orphans cleaned, nothing lost
stack_restart
ok $? "stack restarted on the same data"
is "$(ls -A "$DATA/tmp" | wc -l)" 0 "stale upload files removed at start (were: ${STALE:-none})"
for id in $X $SA $B; do app_wait "$id" 'running|error|stopped' 40 >/dev/null; done
is "$(transitional)" 0 "no app in a transitional state"
is "$(DB "SELECT group_concat(id || ':' || username || ':' || password_hash, ' ') FROM users")" "$USERS0" "users unchanged"
is "$(DB "SELECT id, app_id, name, owner_id, type, port FROM apps WHERE app_id = '$X'")" "$XROW0" "X's row unchanged"
is "$(app_col "$X" status)" running "X running"
is "$(wait_200 "$APPS/apps/$X/" 10)" 200 "X served"
is "$(DB 'PRAGMA integrity_check')" ok "integrity_check ok"
is "$(DB "SELECT count(*) FROM jobs WHERE state IN ('running', 'pending')")" 0 "no job left pending or running"
ATOK2=$(login alice alice-pass-1)
like "$ATOK2" '.' "alice logs in after everything"
