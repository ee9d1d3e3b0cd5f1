#!/bin/bash
# e2e: the host runtime for gradio and plugin apps (SLIPWAY_GRADIO_RUNTIME=
# venv) with Docker absent from the agent's configuration: the cases of
# agent-gradio.sh (a single .py, app.py + empty requirements.txt, no app.py
# so the first .py, a plugin with config.yaml) served through nginx with the
# right environment and nothing of the agent's; an offline pip install of
# a local wheel (and the venv reused on restart), a failing install; stop
# ends the whole process group (the app forks `sleep 1000`); an app that
# dies goes to error and its child goes too; kill -9 of the agent: the app
# keeps serving, the restarted agent adopts it and can stop it; delete
# removes the venv.  As root the apps run as SLIPWAY_RUN_USER=nobody.  TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

PY=/usr/bin/python3
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
	echo "1..0 # SKIP $PY has no venv/ensurepip"
	exit 0
fi
RUN_USER=
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	RUN_USER=nobody
fi
export SLIPWAY_GRADIO_RUNTIME=venv SLIPWAY_PYTHON=$PY SLIPWAY_RUN_USER=$RUN_USER \
    SLIPWAY_DOCKER_SOCKET=/nonexistent/docker.sock SLIPWAY_NO_DOCKER=1 \
    SLIPWAY_GRADIO_PACKAGE= SLIPWAY_START_TIMEOUT=20 \
    SLIPWAY_APP_MEMORY=2g SLIPWAY_APP_PIDS=4000 \
    SLIPWAY_TEST_CANARY=agent-only
stack_start || exit 1
# The run user must reach the sources and the venvs below $T (mktemp: 0700).
chmod 0711 "$T"
agent_setup || exit 1
DATA=$T/var
FIX=$SLIPWAY_SRCDIR/tests/data/apps

# Sessions of app processes this test saw: killed at the end whatever
# happened (apps outlive the stack by design).
SEEN_SIDS=
venv_finish() {
	local s
	for s in $SEEN_SIDS $(DB 'SELECT host_pid FROM apps WHERE host_pid IS NOT NULL' 2>/dev/null); do
		pkill -KILL -s "$s" 2>/dev/null
	done
	agent_finish
}
trap venv_finish EXIT

j() {	# j <json file> <python expr on d>
	"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}
fetch() {	# fetch ID -> $T/out.json, status code (waits for the route)
	wait_200 "$APPS/apps/$1/" 5 >/dev/null
	curl -s -m 5 -o "$T/out.json" -w '%{http_code}' "$APPS/apps/$1/"
}
# A live process: /proc/<pid>/stat exists and is not a zombie (init here
# may not reap orphans).
alive() {
	local st
	st=$(sed -n 's/^.*) \(.\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
gone_within() {	# PID SECS
	local end=$(( $(date +%s) + $2 ))
	while alive "$1"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}
# Wait until the app has no pending or running job.
jobs_idle() {	# ID SECS
	local end=$(( $(date +%s) + $2 ))
	while [ "$(DB "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running') AND app_id = (SELECT id FROM apps WHERE app_id = '$1')")" != 0 ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}
# Wait until URL answers CODE.
wait_code() {	# URL CODE SECS
	local end=$(( $(date +%s) + $3 )) c
	while :; do
		c=$(http_code "$1")
		[ "$c" = "$2" ] && { echo "$c"; return 0; }
		[ "$(date +%s)" -ge "$end" ] && { echo "$c"; return 1; }
		sleep 0.1
	done
}
# Local address of the listening socket on PORT (hex, /proc/net/tcp).
listen_addr() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { split($2, a, ":"); print a[1] }' /proc/net/tcp | head -1
}

# ------------------------------------------------------------ Docker absent
like "$(cat "$DATA/logs/slipway.log")" 'Docker does not answer' "the agent runs without Docker"
like "$(cat "$DATA/logs/slipway.log")" 'gradio and plugin apps run in venvs' "and says it runs gradio apps in venvs"
mkdir -p "$T/dockerapp"
printf 'FROM scratch\n' >"$T/dockerapp/Dockerfile"
K=$(app_create docker "$T/dockerapp")

# ------------------------------------------------------------ a single .py
mkdir -p "$T/single"
cp "$FIX/venv-forker/forker.py" "$T/single/"
A=$(app_create gradio "$T/single" forker.py '{"GREETING": "hi there", "PORT": "1", "PATH": "/evil"}')
st=$(app_wait "$A" 'running|error' 60)
is "$st" running "single .py app runs ($(app_col "$A" status_detail | head -c 200))"
PA=$(app_col "$A" port)
is "$(wait_200 "$APPS/apps/$A/" 5)" 200 "served through the apps site"
fetch "$A" >/dev/null
is "$(j "$T/out.json" 'd["PORT"]')" "$PA" "PORT is the host port"
is "$(j "$T/out.json" 'd["GRADIO_SERVER_PORT"]')" "$PA" "GRADIO_SERVER_PORT too"
is "$(j "$T/out.json" 'd["GRADIO_ROOT_PATH"]')" "/apps/$A" "GRADIO_ROOT_PATH"
is "$(j "$T/out.json" 'd["ROOT_PATH"]')" "/apps/$A" "ROOT_PATH"
is "$(j "$T/out.json" 'd["GRADIO_SERVER_NAME"]')" 127.0.0.1 "GRADIO_SERVER_NAME is loopback on the host"
is "$(listen_addr "$PA")" 0100007F "the app listens on 127.0.0.1 only"
is "$(j "$T/out.json" 'd["GREETING"]')" "hi there" "the app's envs reach it"
is "$(j "$T/out.json" 'd["PATH"].split(":")[0]')" "$DATA/venvs/$A/bin" "PATH starts with the venv (the app's PATH refused)"
is "$(j "$T/out.json" 'd["HOME"]')" "$DATA/venvs/$A/home" "HOME in the venv"
is "$(j "$T/out.json" 'd["CUDA_VISIBLE_DEVICES"]')" "" "no GPU reserved: CUDA_VISIBLE_DEVICES hides them"
is "$(j "$T/out.json" 'd["prefix"]')" "$DATA/venvs/$A" "python runs in the app's venv"
is "$(j "$T/out.json" 'd["cwd"]')" "$DATA/uploads/$A" "cwd is the sources"
is "$(j "$T/out.json" 'd["path"]')" "/" "prefix stripped by nginx"
is "$(j "$T/out.json" '",".join(n for n in d["env_names"] if n.startswith("SLIPWAY") or n in ("ADMIN_PASSWORD", "ASAN_OPTIONS", "PIP_FIND_LINKS", "PYENV_ROOT")))')" "" "nothing of the agent's environment"
ok $([ "$(j "$T/out.json" 'len(d["env_names"])')" -le 16 ]; echo $?) "a minimal environment ($(j "$T/out.json" '" ".join(d["env_names"])'))"
APID=$(j "$T/out.json" 'd["pid"]')
ACHILD=$(j "$T/out.json" 'd["child_pid"]')
SEEN_SIDS="$SEEN_SIDS $APID"
is "$(app_col "$A" host_pid)" "$APID" "host_pid is the app's process"
is "$(j "$T/out.json" 'd["sid"]')" "$APID" "the app leads its own session"
is "$(j "$T/out.json" 'd["pgid"]')" "$APID" "and its own process group"
is "$(app_col "$A" host_pid_start)" "$(awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$APID/stat")" "host_pid_start is field 22 of /proc/<pid>/stat"
if [ -n "$RUN_USER" ]; then
	is "$(j "$T/out.json" 'd["uid"]')" "$(id -u "$RUN_USER")" "runs as SLIPWAY_RUN_USER $RUN_USER"
	is "$(stat -c %U "$DATA/venvs/$A")" "$RUN_USER" "the venv belongs to it"
fi
ok $(alive "$ACHILD"; echo $?) "the app's child runs"
limit() {	# PID NAME -> soft limit
	sed -n "s/^$2  *\([^ ]*\) .*/\1/p" "/proc/$1/limits"
}
is "$(limit "$APID" 'Max open files')" 4096 "RLIMIT_NOFILE"
is "$(limit "$APID" 'Max address space')" $((2 * 1024 * 1024 * 1024)) "RLIMIT_AS from SLIPWAY_APP_MEMORY"
if [ -n "$RUN_USER" ]; then
	is "$(limit "$APID" 'Max processes')" 4000 "RLIMIT_NPROC from SLIPWAY_APP_PIDS"
fi
is "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$APID/status")" 1 "no_new_privs set"
LOG=$DATA/logs/$A.log
like "$(cat "$LOG")" "making the venv: $PY -m venv --without-pip" "log shows the venv made without pip (nothing to install)"
like "$(cat "$LOG")" 'env PORT is set by slipway' "a reserved env name is refused with a note"
ok $([ ! -e "$DATA/venvs/$A/bin/pip" ]; echo $?) "no pip in the venv"
for _ in $(seq 1 60); do grep -q "forker app forker.py listening" "$LOG" && break; sleep 0.1; done
like "$(cat "$LOG")" "forker app forker.py listening on 127.0.0.1:$PA" "app output in the log"

# ------------------------------------------------------------ app.py + empty requirements.txt
mkdir -p "$T/withreq"
cp "$FIX/py-echo/echo_app.py" "$T/withreq/app.py"
: >"$T/withreq/requirements.txt"
B=$(app_create gradio "$T/withreq" app.py)
st=$(app_wait "$B" 'running|error' 60)
is "$st" running "app.py with an empty requirements.txt runs"
is "$(fetch "$B")" 200 "served"
is "$(j "$T/out.json" 'd["file"]')" app.py "app.py is what runs"
ok $(! grep -q 'installing requirements' "$DATA/logs/$B.log"; echo $?) "empty requirements: nothing installed"

# ------------------------------------------------------------ no app.py: the first .py
mkdir -p "$T/first"
cp "$FIX/venv-forker/forker.py" "$T/first/aaa_server.py"
printf 'raise SystemExit("zzz_broken.py must not run")\n' >"$T/first/zzz_broken.py"
echo "notes" >"$T/first/README.txt"
C=$(app_create gradio "$T/first")
st=$(app_wait "$C" 'running|error' 60)
is "$st" running "no app.py and no entry: runs"
fetch "$C" >/dev/null
is "$(j "$T/out.json" 'd["file"]')" aaa_server.py "the first .py is the entry"

# ------------------------------------------------------------ plugin
P=$(app_create plugin "$FIX/plugin-echo" plugin/gradio_interface.py '{}' '{"threshold": 0.5, "labels": ["a", "b"]}')
st=$(app_wait "$P" 'running|error' 60)
is "$st" running "plugin runs ($(app_col "$P" status_detail | head -c 200))"
PP=$(app_col "$P" port)
is "$(fetch "$P")" 200 "plugin served through the apps site"
is "$(j "$T/out.json" 'json.loads(d["PLUGIN_PARAMS"])')" "{'threshold': 0.5, 'labels': ['a', 'b']}" "PLUGIN_PARAMS is the params JSON"
is "$(j "$T/out.json" 'd["launch"]["root_path"]')" "/apps/$P" "launched with root_path /apps/<id>"
is "$(j "$T/out.json" 'd["launch"]["server_port"]')" "$PP" "launched on PORT"
is "$(j "$T/out.json" 'd["launch"]["server_name"]')" 127.0.0.1 "launched on 127.0.0.1"
like "$(cat "$DATA/logs/$P.log")" 'plugin echo-plugin@1.0.0, entrypoint plugin.gradio_interface.app' "log names the plugin"
ok $([ -f "$DATA/venvs/$P/slipway_launcher.py" ] && [ ! -e "$DATA/uploads/$P/slipway_launcher.py" ]; echo $?) \
    "the launcher is in the venv, not in the sources"
SEEN_SIDS="$SEEN_SIDS $(app_col "$P" host_pid)"

mkdir -p "$T/badplugin"
cp -a "$FIX/plugin-echo/." "$T/badplugin/"
printf 'code: echo-plugin\nname: x\nversion: 1.0.0\nactions:\n  gradio:\n    entrypoint: ../../etc/passwd\n' >"$T/badplugin/config.yaml"
Q=$(app_create plugin "$T/badplugin")
st=$(app_wait "$Q" 'running|error' 30)
is "$st" error "bad config.yaml -> error"
like "$(app_col "$Q" status_detail)" 'config.yaml' "the reason names config.yaml"

# ------------------------------------------------------------ requirements: an offline install
mkdir -p "$T/wheel"
cp "$FIX/venv-forker/forker.py" "$T/wheel/app.py"
W=$("$PY" "$FIX/venv-forker/make-wheel.py" "$T/wheel")
printf -- '# a local wheel, no index\n--no-index\n./%s\n' "$W" >"$T/wheel/requirements.txt"
D=$(app_create gradio "$T/wheel" app.py)
st=$(app_wait "$D" 'running|error' 90)
is "$st" running "app with requirements runs ($(app_col "$D" status_detail | head -c 200))"
fetch "$D" >/dev/null
is "$(j "$T/out.json" 'd["dep"]')" "installed from a wheel" "the requirement is importable"
SEEN_SIDS="$SEEN_SIDS $(j "$T/out.json" 'd["pid"]')"
like "$(cat "$DATA/logs/$D.log")" 'installing requirements: pip install -r requirements.txt' "the install is in the log"
like "$(cat "$DATA/logs/$D.log")" 'Successfully installed slipway-test-dep-1.0' "with pip's output"
app_restart "$D"
jobs_idle "$D" 60
st=$(app_wait "$D" 'running|error' 60)
is "$st" running "restarted"
like "$(cat "$DATA/logs/$D.log")" 'requirements unchanged: reusing the venv' "the venv is reused"
is "$(grep -c 'Successfully installed' "$DATA/logs/$D.log")" 1 "nothing installed again"
fetch "$D" >/dev/null
SEEN_SIDS="$SEEN_SIDS $(j "$T/out.json" 'd["pid"]')"

mkdir -p "$T/depsbad"
cp "$FIX/py-echo/echo_app.py" "$T/depsbad/app.py"
printf -- '--no-index\nfail-to-install==9\n' >"$T/depsbad/requirements.txt"
E=$(app_create gradio "$T/depsbad" app.py)
st=$(app_wait "$E" 'running|error' 90)
is "$st" error "a failing install -> error"
like "$(app_col "$E" status_detail)" 'pip install failed' "reason: $(app_col "$E" status_detail | head -c 120)"
like "$(cat "$DATA/logs/$E.log")" 'No matching distribution found for fail-to-install' "pip's error in the log"

# ------------------------------------------------------------ a start that exits, one that never answers
mkdir -p "$T/crash"
printf 'import sys\nprint("crashing on purpose", flush=True)\nsys.exit(3)\n' >"$T/crash/app.py"
X=$(app_create gradio "$T/crash" app.py)
st=$(app_wait "$X" 'running|error' 30)
is "$st" error "an app that exits at once -> error"
like "$(app_col "$X" status_detail)" 'exited with code 3 before answering' "reason has the exit code"
like "$(app_col "$X" status_detail)" 'crashing on purpose' "and the tail of its output"
is "$(app_col "$X" "ifnull(host_pid, 'none')")" none "no process recorded"

# ------------------------------------------------------------ stop ends the process group
app_stop "$A"
jobs_idle "$A" 30
st=$(app_wait "$A" 'stopped|error' 30)
is "$st" stopped "stopped"
ok $(gone_within "$APID" 5; echo $?) "the app's process is gone"
ok $(gone_within "$ACHILD" 5; echo $?) "the child it forked is gone too"
is "$(app_col "$A" "ifnull(host_pid, 'none')")" none "host_pid cleared"
is "$(wait_code "$APPS/apps/$A/" 404 5)" 404 "no route when stopped"
app_start "$A"
jobs_idle "$A" 60
st=$(app_wait "$A" 'running|error' 60)
is "$st" running "started again"
fetch "$A" >/dev/null
APID=$(j "$T/out.json" 'd["pid"]')
ACHILD=$(j "$T/out.json" 'd["child_pid"]')
SEEN_SIDS="$SEEN_SIDS $APID"
like "$(cat "$LOG")" 'requirements unchanged: reusing the venv' "the venv is kept across stop and start"

# ------------------------------------------------------------ an app that dies
fetch "$C" >/dev/null
CPID=$(j "$T/out.json" 'd["pid"]')
CCHILD=$(j "$T/out.json" 'd["child_pid"]')
SEEN_SIDS="$SEEN_SIDS $CPID"
kill -KILL "$CPID"
st=$(app_wait "$C" 'error' 15)
is "$st" error "an app whose process dies -> error"
like "$(app_col "$C" status_detail)" "process exited" "reason: $(app_col "$C" status_detail)"
sleep 0.5
jobs_idle "$C" 30
is "$(app_col "$C" "ifnull(host_pid, 'none')")" none "cleaned up by a stop job"
ok $(gone_within "$CCHILD" 5; echo $?) "the child it left behind is gone"
is "$(wait_code "$APPS/apps/$C/" 404 5)" 404 "its route is gone"

# ------------------------------------------------------------ kill -9 the agent
OLD=$(agent_pid)
kill -KILL "$OLD"
is "$(http_code "$APPS/apps/$A/")" 200 "the app serves while the agent is down"
for _ in $(seq 1 100); do
	NEW=$(agent_pid)
	[ -n "$NEW" ] && [ "$NEW" != "$OLD" ] && kill -0 "$NEW" 2>/dev/null && break
	sleep 0.1
done
ok $([ -n "$NEW" ] && [ "$NEW" != "$OLD" ]; echo $?) "the supervisor restarted the agent ($OLD -> $NEW)"
for _ in $(seq 1 50); do grep -q "process $APID adopted" "$LOG" && break; sleep 0.1; done
like "$(cat "$LOG")" "process $APID adopted" "the new agent adopts the running process"
is "$(app_col "$A" status)" running "the app is still running"
ok $(alive "$APID"; echo $?) "same process"
is "$(http_code "$APPS/apps/$A/")" 200 "still served"
app_stop "$A"
jobs_idle "$A" 30
st=$(app_wait "$A" 'stopped|error' 30)
is "$st" stopped "the new agent stops it"
ok $(gone_within "$APID" 5; echo $?) "its process is gone"
ok $(gone_within "$ACHILD" 5; echo $?) "and its child"

# ------------------------------------------------------------ Docker apps wait for Docker
is "$(app_col "$K" status)" queued "a docker app stays queued while Docker is away"
is "$(DB "SELECT state FROM jobs WHERE app_id = (SELECT id FROM apps WHERE app_id = '$K')")" pending "its job is not claimed"

# ------------------------------------------------------------ delete everything
ok $([ -d "$DATA/venvs/$A" ]; echo $?) "the venv exists before delete"
for Y in $A $B $C $P $Q $D $E $X; do
	app_delete "$Y"
done
for Y in $A $B $C $P $Q $D $E $X; do
	app_gone "$Y" 30 || diag "$Y not gone: $(app_col "$Y" status) $(app_col "$Y" status_detail)"
done
is "$(DB "SELECT count(*) FROM apps WHERE app_id <> '$K'")" 0 "all apps deleted"
is "$(ls "$DATA/venvs" | wc -l)" 0 "no venv left"
is "$(ls "$DATA/uploads" | grep -cv "^$K\$")" 0 "no sources left"
left=0
for s in $SEEN_SIDS; do
	[ -n "$(pgrep -s "$s" 2>/dev/null | while read -r p; do alive "$p" && echo "$p"; done)" ] && left=1
done
is "$left" 0 "no app process left"
