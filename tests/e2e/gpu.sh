#!/bin/bash
# e2e: GPUs (issue 9).  This host has no NVIDIA runtime, so the stack talks
# to Docker through tests/e2e/docker-proxy.py, which records every
# container-create body and strips HostConfig.DeviceRequests before Docker
# sees it.  The inventory is a fake nvidia-smi (tests/data/gpu/
# nvidia-smi-file) printing tests/data/gpu/e2e-4gpus.csv: four GPUs with
# different free memory.  Checked through the API: apps land on the right
# devices (best fit, a two-GPU split), GET /gpus shows reservations, a stop
# frees room, an app that cannot fit ends in error, an unreadable inventory
# answers 503, concurrent uploads never over-commit, and, on a second stack
# with no GPU tooling at all, vram_required = 0 apps run without
# DeviceRequests.  Real nginx, workers, agent and Docker; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"

docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
BUSYBOX=$(command -v busybox)
case $(file -b "$BUSYBOX" 2>/dev/null) in
*static*) ;;
*) [ -x /bin/busybox ] && BUSYBOX=/bin/busybox ;;
esac

export SLIPWAY_START_TIMEOUT=20
GDIR=$(mktemp -d /tmp/slipway-gpu.XXXXXX)
AGENT_CLEANUP_DIRS=$GDIR
REC=$GDIR/creates.jsonl
cp "$SRC/tests/data/gpu/e2e-4gpus.csv" "$GDIR/gpus.csv"
export SLIPWAY_DOCKER_SOCKET=$GDIR/docker.sock
export SLIPWAY_NVIDIA_SMI=$SRC/tests/data/gpu/nvidia-smi-file
export SLIPWAY_FAKE_GPUS=$GDIR/gpus.csv

/usr/bin/python3 "$SRC/tests/e2e/docker-proxy.py" "$SLIPWAY_DOCKER_SOCKET" "$REC" \
    2>"$GDIR/proxy.log" &
AGENT_CLEANUP_PIDS=$!
early_finish() {	# before agent_setup installs agent_finish
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

# ------------------------------------------------------------ helpers
TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"
ZIP=$GDIR/app.zip
mkdir -p "$GDIR/src"
cp -a "$SRC/tests/data/apps/busybox-httpd/." "$GDIR/src/"
cp "$BUSYBOX" "$GDIR/src/busybox"
/usr/bin/python3 - "$GDIR/src" "$ZIP" <<'PYEOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for f in files:
            p = os.path.join(root, f)
            z.write(p, os.path.join("myapp", os.path.relpath(p, src)))
PYEOF

upload() {	# NAME VRAM: POST /upload; prints the app_id ("" on failure)
	local st
	st=$(curl -s -o "$GDIR/up-$1.json" -w '%{http_code}' -H "$AUTH" \
	    -F "file=@$ZIP" -F "name=$1" -F "vram_required=$2" "$API/upload")
	[ "$st" = 202 ] || { diag "upload $1: $st $(cat "$GDIR/up-$1.json")"; return 1; }
	/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["app_id"])' "$GDIR/up-$1.json"
}
app_api() {	# ID EXPR: GET /apps/<id>, a python expression on d
	api GET "/apps/$1" -H "$AUTH" >/dev/null
	jget "$2"
}
st_gpus() { app_api "$1" '",".join(str(g) for g in d["gpus"])'; }
detail() { app_api "$1" 'd["status_detail"]'; }
# DeviceRequests of the last create recorded for the app's container:
# compact JSON, "none" without any, "missing" when none was recorded.
devreq() {
	/usr/bin/python3 - "$REC" "slipway-$1" <<'PYEOF'
import json, sys
last = None
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        if r["name"] == sys.argv[2]:
            last = r["body"]
except FileNotFoundError:
    pass
if last is None:
    print("missing")
else:
    dr = (last.get("HostConfig") or {}).get("DeviceRequests")
    print(json.dumps(dr, sort_keys=True, separators=(",", ":")) if dr else "none")
PYEOF
}
# Every create labelled for the app (compose: one per service): the number
# of containers and their distinct DeviceRequests.
devreq_labelled() {
	/usr/bin/python3 - "$REC" "$1" <<'PYEOF'
import json, sys
last = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if (r["body"].get("Labels") or {}).get("slipway.app") == sys.argv[2]:
        dr = (r["body"].get("HostConfig") or {}).get("DeviceRequests")
        for d in dr or []:	# compose adds Count 0 (with DeviceIDs) and Options {}
            if d.get("Count") == 0:
                del d["Count"]
            if d.get("Options") == {}:
                del d["Options"]
        last[r["name"]] = json.dumps(dr, sort_keys=True, separators=(",", ":")) if dr else "none"
print(len(last), " ".join(sorted(set(last.values()))))
PYEOF
}
dr_for() {	# "0","3" -> the DeviceRequests slipway must send
	printf '[{"Capabilities":[["gpu"]],"DeviceIDs":[%s],"Driver":"nvidia"}]' "$1"
}
# GET /gpus as "index:reserved:free:app,app" per GPU, space separated; ids
# mapped to names through $GDIR/names (id name lines).
gpus_summary() {
	api GET /gpus -H "$AUTH" >/dev/null
	/usr/bin/python3 - "$T/body" "$GDIR/names" <<'PYEOF'
import json, sys
names = dict(l.split() for l in open(sys.argv[2]) if l.strip())
out = []
for g in json.load(open(sys.argv[1])):
    apps = ",".join(sorted(names.get(a, a) for a in g["apps"]))
    out.append("%d:%d:%d:%s" % (g["index"], g["reserved"], g["memory_free"], apps))
print(" ".join(out))
PYEOF
}
: >"$GDIR/names"
named() { echo "$1 $2" >>"$GDIR/names"; }	# ID NAME
delete_all() {	# ID...
	local id
	for id in "$@"; do
		is "$(api DELETE "/apps/$id" -H "$AUTH")" 204 "DELETE /apps/$id"
	done
	for id in "$@"; do
		app_gone "$id" 60 || ok 1 "app $id gone"
	done
}
# Phase 1's log must be free of sanitizer reports before it is removed.
sanitizer_check() {
	if grep -q 'Sanitizer' "$T/var/logs/slipway.log" 2>/dev/null; then
		ok 1 "no sanitizer reports in the log"
		grep -A12 'Sanitizer' "$T/var/logs/slipway.log" | head -40 | sed 's/^/# /'
	else
		ok 0 "no sanitizer reports in the log"
	fi
}

# ------------------------------------------------------------ inventory
is "$(api GET /gpus)" 401 "GET /gpus needs a token"
is "$(api GET /gpus -H "$AUTH")" 200 "GET /gpus"
is "$(jget '" ".join("%d/%s/%s/%d" % (g["index"], g["name"], g["uuid"][:12], g["memory_total"]) for g in d)')" \
    "0/Fake GPU 24GB/GPU-e2e00000/24576 1/Fake GPU 16GB/GPU-e2e11111/16384 2/Fake GPU 8GB/GPU-e2e22222/8192 3/Fake GPU 40GB/GPU-e2e33333/40960" \
    "four GPUs from the fake nvidia-smi"
is "$(gpus_summary)" "0:0:24576: 1:0:12000: 2:0:8000: 3:0:40000:" "free = total - used, nothing reserved"

# ------------------------------------------------------------ placement
# Best fit, one after the other: 7000 -> GPU 2 (8000 free), 10000 -> GPU 1
# (12000), 30000 -> GPU 3 (40000).  (The order matters: with GPU 3 taken
# first, 40960 - 30000 = 10960 would be the best fit for 10000.)
A=$(upload gpu-a 7000); named "$A" A
is "$(app_wait "$A" 'running|error' 90)" running "app A (7000 MiB) reaches running"
B=$(upload gpu-b 10000); named "$B" B
is "$(app_wait "$B" 'running|error' 90)" running "app B (10000 MiB) reaches running"
C=$(upload gpu-c 30000); named "$C" C
is "$(app_wait "$C" 'running|error' 90)" running "app C (30000 MiB) reaches running"
is "$(st_gpus "$A")|$(st_gpus "$B")|$(st_gpus "$C")" "2|1|3" "/apps/<id> gpus: best fit for each"
api GET /status -H "$AUTH" >/dev/null
is "$(jget '" ".join("%s=%s" % (a["name"], ",".join(map(str, a["gpus"]))) for a in sorted(d, key=lambda a: a["name"]))')" \
    "gpu-a=2 gpu-b=1 gpu-c=3" "GET /status gpus"
is "$(devreq "$A")" "$(dr_for '"2"')" "A: DeviceRequests nvidia, DeviceIDs [2], [[gpu]]"
is "$(devreq "$B")" "$(dr_for '"1"')" "B: DeviceIDs [1]"
is "$(devreq "$C")" "$(dr_for '"3"')" "C: DeviceIDs [3]"
is "$(docker inspect -f '{{len .HostConfig.DeviceRequests}}' "slipway-$A" 2>&1)" 0 "the proxy stripped them before Docker"
is "$(wait_200 "$APPS/apps/$A/" 10)" 200 "A is served"
# free = total - max(used, reserved): GPU 1 16384-10000, 2 8192-7000, 3 40960-30000
is "$(gpus_summary)" "0:0:24576: 1:10000:6384:B 2:7000:1192:A 3:30000:10960:C" "GET /gpus: reserved MiB and app ids"
is "$(DB "SELECT group_concat(gpu_index || '=' || mib, ' ') FROM (SELECT gpu_index, mib FROM gpu_reservations ORDER BY gpu_index)")" \
    "1=10000 2=7000 3=30000" "gpu_reservations rows"

# ------------------------------------------------------------ no room
# 50000 > 24576+6384+1192+10960 free now (it would fit on idle GPUs).
D=$(upload gpu-d 50000); named "$D" D
is "$(app_wait "$D" 'running|error' 90)" error "an app that cannot fit ends in error"
like "$(detail "$D")" "no GPU with 50000 MiB free" "status_detail says why"
is "$(st_gpus "$D")" "" "it holds no GPU"
is "$(devreq "$D")" missing "no container was created for it"
F=$(upload gpu-f 200000); named "$F" F
is "$(app_wait "$F" 'running|error' 90)" error "more than every GPU together: error"
like "$(detail "$F")" "no GPU with 200000 MiB free" "status_detail for the impossible app"
is "$(gpus_summary)" "0:0:24576: 1:10000:6384:B 2:7000:1192:A 3:30000:10960:C" "the failures reserved nothing"

# Reserved, then Docker refuses the container: the reservation goes.
H=$(curl -s -H "$AUTH" -F "file=@$ZIP" -F name=gpu-h -F vram_required=1000 \
    -F 'envs={"SLIPWAY_TEST_FAIL_CREATE":"1"}' "$API/upload" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("app_id", ""))')
named "$H" H
is "$(app_wait "$H" 'running|error' 90)" error "a container Docker refuses: error"
like "$(detail "$H")" "cannot create the container" "status_detail says why"
is "$(devreq "$H")" "$(dr_for '"2"')" "it had GPU 2 reserved (best fit) when it asked"
is "$(gpus_summary)" "0:0:24576: 1:10000:6384:B 2:7000:1192:A 3:30000:10960:C" "the failed app's reservation was released"
is "$(st_gpus "$H")" "" "and it holds no GPU"

# ------------------------------------------------------------ stop frees room
is "$(api POST "/stop/$C" -H "$AUTH")" 202 "POST /stop C"
is "$(app_wait "$C" 'stopped|error' 30)" stopped "C stopped"
is "$(gpus_summary)" "0:0:24576: 1:10000:6384:B 2:7000:1192:A 3:0:40000:" "GET /gpus: C's room is free again"
is "$(st_gpus "$C")" "" "C holds no GPU"
# 60000: no single GPU; the fewest GPUs that cover it are 0 and 3.
E=$(upload gpu-e 60000); named "$E" E
is "$(app_wait "$E" 'running|error' 90)" running "60000 MiB app runs on two GPUs"
is "$(st_gpus "$E")" "0,3" "E gpus 0,3"
is "$(devreq "$E")" "$(dr_for '"0","3"')" "E: DeviceIDs [0, 3]"
is "$(gpus_summary)" "0:20000:4576:E 1:10000:6384:B 2:7000:1192:A 3:40000:960:E" "E split: largest free first"
# C again: its room is taken now.
is "$(api POST "/restart/$C" -H "$AUTH")" 202 "POST /restart C"
is "$(app_wait "$C" 'running|error' 60)" error "C cannot start again: no room"
like "$(detail "$C")" "no GPU with 30000 MiB free" "and says so"
is "$(gpus_summary)" "0:20000:4576:E 1:10000:6384:B 2:7000:1192:A 3:40000:960:E" "C's failed restart reserved nothing"

# ------------------------------------------------------------ vram 0
Z=$(upload gpu-z 0); named "$Z" Z
is "$(app_wait "$Z" 'running|error' 90)" running "vram_required 0 runs with every GPU taken"
is "$(devreq "$Z")" none "no DeviceRequests for it"
is "$(st_gpus "$Z")" "" "no gpus"

# ------------------------------------------------------------ inventory errors
printf 'this is not nvidia-smi output\n' >"$GDIR/gpus.csv"
is "$(api GET /gpus -H "$AUTH")" 503 "unreadable inventory: GET /gpus 503"
is "$(jget 'd["code"] + "|" + d["detail"]')" "gpu_inventory|the GPU inventory cannot be read" "a JSON error"
G=$(upload gpu-g 100); named "$G" G
is "$(app_wait "$G" 'running|error' 90)" error "a GPU app cannot start without an inventory"
like "$(detail "$G")" "cannot read the GPU inventory" "status_detail says why"
cp "$SRC/tests/data/gpu/e2e-4gpus.csv" "$GDIR/gpus.csv"
is "$(gpus_summary)" "0:20000:4576:E 1:10000:6384:B 2:7000:1192:A 3:40000:960:E" "inventory back, bookkeeping unchanged"

delete_all "$A" "$B" "$C" "$D" "$E" "$F" "$G" "$H" "$Z"
is "$(gpus_summary)" "0:0:24576: 1:0:12000: 2:0:8000: 3:0:40000:" "everything deleted: nothing reserved"
is "$(DB 'SELECT count(*) FROM gpu_reservations')" 0 "no reservation rows left"

# ------------------------------------------------------------ compose
# Every service of a compose app gets the app's GPUs (through the
# normalised file: deploy.resources.reservations.devices).
mkdir -p "$GDIR/proj"
cp -a "$SRC/tests/data/apps/compose-busybox/." "$GDIR/proj/"
cp "$BUSYBOX" "$GDIR/proj/busybox"
(cd "$GDIR/proj" && /usr/bin/python3 -c 'import os, zipfile
with zipfile.ZipFile("../compose.zip", "w") as z:
    for root, dirs, files in os.walk("."):
        for f in files:
            z.write(os.path.join(root, f))')
st=$(curl -s -o "$GDIR/up-compose.json" -w '%{http_code}' -H "$AUTH" \
    -F "file=@$GDIR/compose.zip" -F "name=gpu-compose" -F "vram_required=5000" "$API/upload")
is "$st" 202 "compose app uploaded"
K=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("app_id", ""))' "$GDIR/up-compose.json")
named "$K" K
is "$(app_wait "$K" 'running|error' 120)" running "compose app with vram_required 5000 runs"
is "$(st_gpus "$K")" 2 "best fit: GPU 2"
is "$(devreq_labelled "$K")" "2 $(dr_for '"2"')" "both services created with DeviceIDs [2]"
is "$(gpus_summary)" "0:0:24576: 1:0:12000: 2:5000:3192:K 3:0:40000:" "GET /gpus shows the compose app"
delete_all "$K"
is "$(gpus_summary)" "0:0:24576: 1:0:12000: 2:0:8000: 3:0:40000:" "released with the compose app"

# ------------------------------------------------------------ concurrency
# Six uploads of 20000 MiB at once.  Room for exactly four: GPU 0, GPU 3
# twice, GPUs 1+2 together (12000 + 8000).
up_pids=
for i in 1 2 3 4 5 6; do
	upload "gpu-p$i" 20000 >"$GDIR/p$i.id" &
	up_pids="$up_pids $!"
done
wait $up_pids
P=
for i in 1 2 3 4 5 6; do
	id=$(cat "$GDIR/p$i.id"); P="$P $id"; named "$id" "P$i"
done
ok $([ "$(echo "$P" | wc -w)" = 6 ]; echo $?) "six concurrent uploads accepted"
for id in $P; do app_wait "$id" 'running|error' 120 >/dev/null; done
run=0 err=0
for id in $P; do
	case $(app_col "$id" status) in
	running) run=$((run + 1));;
	error) err=$((err + 1)); like "$(detail "$id")" "no GPU with 20000 MiB free" "P: the one that did not fit says why";;
	esac
done
is "$run/$err" "4/2" "four run, two do not fit"
api GET /gpus -H "$AUTH" >/dev/null
is "$(jget 'all(g["reserved"] <= g["memory_total"] for g in d) and sum(g["reserved"] for g in d) == 80000')" True \
    "GET /gpus: per GPU reserved <= total, 80000 MiB reserved in all"
is "$(jget '" ".join("%d:%d:%d" % (g["index"], g["reserved"], len(g["apps"])) for g in d)')" \
    "0:20000:1 1:12000:1 2:8000:1 3:40000:2" "reservations per GPU"
n_ok=0
for id in $P; do
	[ "$(app_col "$id" status)" = running ] || continue
	want=$(st_gpus "$id" | sed 's/\([0-9]\+\)/"\1"/g')
	[ "$(devreq "$id")" = "$(dr_for "$want")" ] && n_ok=$((n_ok + 1))
done
is "$n_ok" 4 "each running app's DeviceIDs match its gpus"
delete_all $P
is "$(gpus_summary)" "0:0:24576: 1:0:12000: 2:0:8000: 3:0:40000:" "all released"

# ------------------------------------------------------------ no GPU tooling
sanitizer_check
stack_stop
agent_docker_cleanup
T1=$T
export SLIPWAY_NVIDIA_SMI=/nonexistent
unset SLIPWAY_FAKE_GPUS
stack_start || exit 1
if [ "$T_FAILED" -eq 0 ]; then rm -rf "$T1"; else diag "phase 1 logs kept in $T1"; fi
agent_setup || exit 1
TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"
is "$(api GET /gpus -H "$AUTH")" 200 "no GPU tooling: GET /gpus 200"
is "$(jget 'len(d)')" 0 "and an empty list"
N0=$(upload gpu-n0 0)
is "$(app_wait "$N0" 'running|error' 90)" running "vram_required 0 runs on a host with no GPU tooling"
is "$(devreq "$N0")" none "without DeviceRequests"
is "$(st_gpus "$N0")" "" "gpus []"
is "$(wait_200 "$APPS/apps/$N0/" 10)" 200 "and is served"
N1=$(upload gpu-n1 500)
is "$(app_wait "$N1" 'running|error' 90)" error "a GPU app on a host with no GPUs: error"
like "$(detail "$N1")" "no GPU with 500 MiB free" "status_detail says why"
delete_all "$N0" "$N1"
