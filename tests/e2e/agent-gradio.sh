#!/bin/bash
# e2e: gradio and plugin apps through the agent (issue 5): generated
# Dockerfile on a Python base image made here without a registry
# (tests/data/apps/make-python-base.sh), entry choice, environment
# (PORT, GRADIO_*, PLUGIN_PARAMS, envs), the dependency layer reused across
# deploys with unchanged requirements, a failing install, clean deletes.
# The apps are standard-library stand-ins for Gradio apps.  TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
BASE=slipway-test/python:3.11
docker image inspect "$BASE" >/dev/null 2>&1 && BASE_WAS_THERE=1 || BASE_WAS_THERE=0
if ! sh "$SLIPWAY_SRCDIR/tests/data/apps/make-python-base.sh" "$BASE" >/dev/null; then
	echo "1..0 # SKIP cannot make the Python base image"
	exit 0
fi
export SLIPWAY_GRADIO_BASE_IMAGE=$BASE SLIPWAY_GRADIO_PACKAGE= SLIPWAY_START_TIMEOUT=20
stack_start || exit 1
agent_setup || exit 1
DATA=$T/var
FIX=$SLIPWAY_SRCDIR/tests/data/apps

j() {	# j <json file> <python expr on d>
	/usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null
}
fetch() {	# fetch ID -> $T/out.json, status code (waits for the route)
	wait_200 "$APPS/apps/$1/" 5 >/dev/null
	curl -s -m 5 -o "$T/out.json" -w '%{http_code}' "$APPS/apps/$1/"
}

# ------------------------------------------------------------ a single .py
mkdir -p "$T/single"
cp "$FIX/py-echo/echo_app.py" "$T/single/"
A=$(app_create gradio "$T/single" echo_app.py '{"GREETING": "hi there", "PORT": "1"}')
st=$(app_wait "$A" 'running|error' 60)
is "$st" running "single .py app runs ($(app_col "$A" status_detail | head -c 200))"
PA=$(app_col "$A" port)
is "$(wait_200 "$APPS/apps/$A/" 5)" 200 "served through the apps site"
fetch "$A" >/dev/null
is "$(j "$T/out.json" 'd["PORT"]')" "$PA" "PORT is the host port (no EXPOSE)"
is "$(j "$T/out.json" 'd["GRADIO_SERVER_PORT"]')" "$PA" "GRADIO_SERVER_PORT too"
is "$(j "$T/out.json" 'd["GRADIO_ROOT_PATH"]')" "/apps/$A" "GRADIO_ROOT_PATH"
is "$(j "$T/out.json" 'd["ROOT_PATH"]')" "/apps/$A" "ROOT_PATH"
is "$(j "$T/out.json" 'd["GRADIO_SERVER_NAME"]')" 0.0.0.0 "GRADIO_SERVER_NAME"
is "$(j "$T/out.json" 'd["GREETING"]')" "hi there" "the app's envs reach it"
is "$(j "$T/out.json" 'd["path"]')" "/" "prefix stripped by nginx"
LOG=$DATA/logs/$A.log
like "$(cat "$LOG")" "Step 1/[0-9]+ : FROM $BASE" "log shows the build on the base image"
like "$(cat "$LOG")" 'env PORT is set by slipway' "a reserved env name is refused with a note"
ok $(! grep -q 'installing requirements' "$LOG"; echo $?) "nothing to install: no dependency layer"
for _ in $(seq 1 60); do grep -q "echo app echo_app.py listening" "$LOG" && break; sleep 0.1; done
like "$(cat "$LOG")" "echo app echo_app.py listening on $PA" "app output in the log"

# ------------------------------------------------------------ app.py + empty requirements.txt
mkdir -p "$T/withreq"
cp "$FIX/py-echo/echo_app.py" "$T/withreq/app.py"
: >"$T/withreq/requirements.txt"
B=$(app_create gradio "$T/withreq" app.py)
st=$(app_wait "$B" 'running|error' 60)
is "$st" running "app.py with an empty requirements.txt runs"
fetch "$B" >/dev/null
is "$(j "$T/out.json" 'd["file"]')" app.py "app.py is what runs"

# ------------------------------------------------------------ no app.py: the first .py
mkdir -p "$T/first"
cp "$FIX/py-echo/echo_app.py" "$T/first/aaa_server.py"
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
is "$(j "$T/out.json" 'd["launch"]["server_name"]')" 0.0.0.0 "launched on 0.0.0.0"
like "$(cat "$DATA/logs/$P.log")" 'plugin echo-plugin@1.0.0, entrypoint plugin.gradio_interface.app' "log names the plugin"

# plugin with a broken config.yaml
mkdir -p "$T/badplugin"
cp -a "$FIX/plugin-echo/." "$T/badplugin/"
printf 'code: echo-plugin\nname: x\nversion: 1.0.0\nactions:\n  gradio:\n    entrypoint: ../../etc/passwd\n' >"$T/badplugin/config.yaml"
Q=$(app_create plugin "$T/badplugin")
st=$(app_wait "$Q" 'running|error' 30)
is "$st" error "bad config.yaml -> error"
like "$(app_col "$Q" status_detail)" 'config.yaml' "the reason names config.yaml"

# ------------------------------------------------------------ the dependency layer
mkdir -p "$T/deps1"
cp "$FIX/py-echo/echo_app.py" "$T/deps1/app.py"
# A requirements file no earlier run used: Docker's build cache survives runs.
printf '# test %s\nleft-pad==1.0\n' "$(basename "$T")" >"$T/deps1/requirements.txt"
t0=$(date +%s%N)
D1=$(app_create gradio "$T/deps1" app.py)
st=$(app_wait "$D1" 'running|error' 60)
t1=$(date +%s%N)
is "$st" running "app with requirements runs"
like "$(cat "$DATA/logs/$D1.log")" 'fake pip: installing left-pad==1.0' "requirements installed, output in the log"
deps_count() {
	docker images --format '{{.Repository}} {{.ID}}' --filter "label=slipway.instance=$INST" |
	    awk '$1 == "slipway/deps" { print $2 }' | sort -u | wc -l
}
ndeps=$(deps_count)
is "$ndeps" 1 "one dependency layer image"
cp -a "$T/deps1" "$T/deps2"
echo "# the code changed" >>"$T/deps2/app.py"
t2=$(date +%s%N)
D2=$(app_create gradio "$T/deps2" app.py)
st=$(app_wait "$D2" 'running|error' 60)
t3=$(date +%s%N)
is "$st" running "redeploy with the same requirements runs"
like "$(cat "$DATA/logs/$D2.log")" 'requirements unchanged: reusing dependency layer' "the dependency layer is reused"
ok $(! grep -q 'fake pip' "$DATA/logs/$D2.log"; echo $?) "nothing installed again"
diag "deploy with install: $(( (t1 - t0) / 1000000 )) ms, reusing the layer: $(( (t3 - t2) / 1000000 )) ms"
is "$(deps_count)" 1 "still one dependency layer"

mkdir -p "$T/depsbad"
cp "$FIX/py-echo/echo_app.py" "$T/depsbad/app.py"
printf 'fail-to-install==9\n' >"$T/depsbad/requirements.txt"
E=$(app_create gradio "$T/depsbad" app.py)
st=$(app_wait "$E" 'running|error' 60)
is "$st" error "a failing install -> error"
like "$(app_col "$E" status_detail)" 'build failed' "reason: $(app_col "$E" status_detail | head -c 120)"
like "$(cat "$DATA/logs/$E.log")" 'No matching distribution found for fail-to-install' "pip's error in the log"

# ------------------------------------------------------------ a start that never answers
mkdir -p "$T/silent"
printf 'import time\nprint("not listening", flush=True)\ntime.sleep(3600)\n' >"$T/silent/app.py"
export SLIPWAY_START_TIMEOUT
S=$(app_create gradio "$T/silent" app.py)
st=$(app_wait "$S" 'running|error' 60)
is "$st" error "an app that never answers -> error"
like "$(app_col "$S" status_detail)" 'not answering HTTP on port [0-9]+ after 20 s' "reason names the timeout"
like "$(app_col "$S" status_detail)" 'not listening' "with the tail of its output"
is "$(docker inspect -f '{{.State.Running}}' "slipway-$S")" false "its container is stopped"

# ------------------------------------------------------------ delete everything
for X in $A $B $C $P $Q $D1 $D2 $E $S; do
	app_delete "$X"
done
for X in $A $B $C $P $Q $D1 $D2 $E $S; do
	app_gone "$X" 30 || diag "$X not gone: $(app_col "$X" status) $(app_col "$X" status_detail)"
done
is "$(DB 'SELECT count(*) FROM apps')" 0 "all apps deleted"
is "$(docker ps -aq --filter "label=slipway.instance=$INST" | wc -l)" 0 "no container left"
is "$(docker images -q --filter "label=slipway.instance=$INST" | wc -l)" 0 "no image left (dependency layers too)"
is "$(ls "$DATA/uploads" | wc -l)" 0 "no files left"
# The base image goes too when this run made it.
[ "$BASE_WAS_THERE" = 1 ] || docker rmi "$BASE" >/dev/null 2>&1
