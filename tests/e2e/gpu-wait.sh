#!/bin/bash
# e2e: SLIPWAY_GPU_WAIT=1 (issue 9).  With one fake 16 GiB GPU, app A takes
# 10 GiB; B (10 GiB) and then C (10 GiB) do not fit and wait in `queued`
# with the reason, without building again and again; stopping A starts B
# (the older waiter first), and C keeps waiting; stopping B starts C.
# Docker is reached through tests/e2e/docker-proxy.py, which strips the
# NVIDIA DeviceRequests this host cannot run.  Real stack; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
BUSYBOX=/bin/busybox

export SLIPWAY_START_TIMEOUT=20 SLIPWAY_GPU_WAIT=1
GDIR=$(mktemp -d /tmp/slipway-gpuwait.XXXXXX)
AGENT_CLEANUP_DIRS=$GDIR
printf '0, GPU-e2e00000-0000-4000-8000-00000000000a, Fake GPU 16GB, 16384, 0\n' >"$GDIR/gpus.csv"
export SLIPWAY_DOCKER_SOCKET=$GDIR/docker.sock
export SLIPWAY_NVIDIA_SMI=$SRC/tests/data/gpu/nvidia-smi-file
export SLIPWAY_FAKE_GPUS=$GDIR/gpus.csv
/usr/bin/python3 "$SRC/tests/e2e/docker-proxy.py" "$SLIPWAY_DOCKER_SOCKET" "$GDIR/creates.jsonl" \
    2>"$GDIR/proxy.log" &
AGENT_CLEANUP_PIDS=$!
early_finish() {
	kill -TERM $AGENT_CLEANUP_PIDS 2>/dev/null
	wait $AGENT_CLEANUP_PIDS 2>/dev/null
	rm -rf "$GDIR"
	e2e_finish
}
trap early_finish EXIT
for _ in $(seq 1 50); do
	curl -s -m 1 --unix-socket "$SLIPWAY_DOCKER_SOCKET" http://d/_ping 2>/dev/null | grep -q OK && break
	sleep 0.1
done
stack_start || exit 1
agent_setup || exit 1

TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"
mkdir -p "$GDIR/src"
cp -a "$SRC/tests/data/apps/busybox-httpd/." "$GDIR/src/"
cp "$BUSYBOX" "$GDIR/src/busybox"
(cd "$GDIR/src" && /usr/bin/python3 -c '
import os, zipfile
with zipfile.ZipFile("../app.zip", "w") as z:
    for root, _, files in os.walk("."):
        for f in files:
            z.write(os.path.join(root, f))
')
upload() {	# NAME VRAM -> app_id
	curl -s -H "$AUTH" -F "file=@$GDIR/app.zip" -F "name=$1" -F "vram_required=$2" "$API/upload" |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["app_id"])'
}
field() {	# ID EXPR
	api GET "/apps/$1" -H "$AUTH" >/dev/null
	jget "$2"
}
wait_status() {	# ID REGEX SECS
	local i s
	for i in $(seq 1 $(($3 * 10))); do
		s=$(field "$1" 'd["status"]')
		printf '%s' "$s" | grep -Eq "^($2)$" && break
		sleep 0.1
	done
	printf '%s' "$s"
}

A=$(upload gpu-a 10000)
is "$(wait_status "$A" 'running|error' 60)" running "A (10000 MiB) runs"
is "$(field "$A" '",".join(map(str, d["gpus"]))')" 0 "A holds GPU 0"
B=$(upload gpu-b 10000)
sleep 0.5
C=$(upload gpu-c 10000)
sleep 3
is "$(field "$B" 'd["status"]')" queued "B waits in queued"
like "$(field "$B" 'd["status_detail"]')" 'waiting for 10000 MiB of GPU memory' "B says why"
is "$(field "$C" 'd["status"]')" queued "C waits too"
n=$(grep -c 'waiting for 10000 MiB' "$T/var/logs/$B.log")
is "$n" 1 "B's log says it once, not at every retry"
ok $(! grep -q 'Step 1/' "$T/var/logs/$B.log"; echo $?) "B is not built while it waits"

is "$(api POST "/stop/$A" -H "$AUTH")" 202 "stop A"
is "$(wait_status "$B" 'running|error' 60)" running "B starts once A's room is free"
is "$(field "$B" '",".join(map(str, d["gpus"]))')" 0 "B holds GPU 0"
is "$(field "$C" 'd["status"]')" queued "C still waits (B was first)"
is "$(api POST "/stop/$B" -H "$AUTH")" 202 "stop B"
is "$(wait_status "$C" 'running|error' 60)" running "C starts after B stops"
api GET /gpus -H "$AUTH" >/dev/null
is "$(jget 'd[0]["reserved"]')" 10000 "GET /gpus: only C's reservation"
for X in $A $B $C; do
	is "$(api DELETE "/apps/$X" -H "$AUTH")" 204 "delete $X"
done
