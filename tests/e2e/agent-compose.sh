#!/bin/bash
# e2e: compose projects through the agent (issue 8): a service built from
# a local Dockerfile plus one using its image, the normalised file outside
# the upload tree, 127.0.0.1-only publishing, labels, logs, stop (down),
# start again without a rebuild, adoption after an agent restart, a crash
# behind the agent's back, the check repeated before `up`, and a delete
# that leaves nothing labelled.  Real stack; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
if ! command -v "${SLIPWAY_COMPOSE:-docker-compose}" >/dev/null; then
	echo "1..0 # SKIP docker-compose not installed"
	exit 0
fi
export SLIPWAY_START_TIMEOUT=30
stack_start || exit 1
agent_setup || exit 1
DATA=$T/var

mkdir -p "$T/proj"
cp -a "$SLIPWAY_SRCDIR/tests/data/apps/compose-busybox/." "$T/proj/"
cp /bin/busybox "$T/proj/busybox"

X=$(app_create compose "$T/proj")
st=$(app_wait "$X" 'running|error' 120)
is "$st" running "compose app runs ($(app_col "$X" status_detail | head -c 300))"
PX=$(app_col "$X" port)
is "$(curl -s -m 3 "http://127.0.0.1:$PX/")" "compose web" "answers on its host port"
is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "served through the apps site"
proj="com.docker.compose.project=slipway-$X"
is "$(docker ps -q --filter "label=$proj" | wc -l)" 2 "two services running"
is "$(docker ps -q --filter "label=$proj" --filter "label=slipway.app=$X" --filter "label=slipway.instance=$INST" | wc -l)" 2 "both carry the slipway labels"
web=$(docker ps -q --filter "label=$proj" --filter "label=com.docker.compose.service=web")
is "$(app_col "$X" docker_id | head -c 12)" "$(echo "$web" | head -c 12)" "docker_id is the publishing service"
is "$(docker port "$web" 8000/tcp)" "127.0.0.1:$PX" "published on 127.0.0.1 only"
envs=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$web")
like "$envs" "ROOT_PATH=/apps/$X" "ROOT_PATH in the publishing service"
like "$envs" "GREETING=hello" "the project's own environment kept"
ok $([ -f "$DATA/uploads/$X.compose.yml" ]; echo $?) "normalised file outside the upload tree"
ok $([ ! -e "$DATA/uploads/$X/$X.compose.yml" ]; echo $?) "nothing written into the upload tree"
like "$(docker volume ls -q --filter "label=slipway.app=$X")" "cache" "named volume labelled"
webimg=$(docker inspect -f '{{.Image}}' "$web")
like "$(docker image inspect -f '{{index .Config.Labels "slipway.app"}}' "$webimg")" "^$X\$" "built image labelled"
LOG=$DATA/logs/$X.log
like "$(cat "$LOG")" 'slipway-'"$X"' up' "compose output in the log"
for _ in $(seq 1 60); do grep -q "compose web up" "$LOG" && break; sleep 0.1; done
like "$(cat "$LOG")" 'compose web up' "service output in the log"

# ------------------------------------------------------------ stop / start
app_stop "$X"
st=$(app_wait "$X" 'stopped|error' 60)
is "$st" stopped "stop -> stopped"
is "$(docker ps -aq --filter "label=$proj" | wc -l)" 0 "down: no containers"
like "$(http_code "$APPS/apps/$X/")" '^(404|502)$' "route gone"
app_start "$X"
st=$(app_wait "$X" running 60)
is "$st" running "start -> running"
is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "served again"
web=$(docker ps -q --filter "label=$proj" --filter "label=com.docker.compose.service=web")
is "$(docker inspect -f '{{.Image}}' "$web")" "$webimg" "same image (no rebuild)"

# ------------------------------------------------------------ agent restart
cid=$(app_col "$X" docker_id)
ap=$(agent_pid)
kill -TERM "$ap"
for _ in $(seq 1 100); do
	np=$(agent_pid); [ -n "$np" ] && [ "$np" != "$ap" ] && kill -0 "$np" 2>/dev/null && break
	sleep 0.1
done
sleep 1
is "$(app_col "$X" status)" running "still running after an agent restart"
is "$(app_col "$X" docker_id)" "$cid" "publishing container adopted"
is "$(docker ps -q --filter "label=$proj" | wc -l)" 2 "compose containers untouched"

# ------------------------------------------------------------ crash behind our back
docker kill "$web" >/dev/null
st=$(app_wait "$X" 'error|finished' 20)
like "$st" '^(error|finished)$' "publishing container killed -> $st"
for _ in $(seq 1 100); do [ "$(docker ps -q --filter "label=$proj" | wc -l)" = 0 ] && break; sleep 0.1; done
is "$(docker ps -q --filter "label=$proj" | wc -l)" 0 "project brought down"

# ------------------------------------------------------------ checked again before up
printf '    privileged: true\n' >>"$DATA/uploads/$X/docker-compose.yml"
app_restart "$X"
st=$(app_wait "$X" 'running|error' 30)
sleep 0.5
st=$(app_wait "$X" 'running|error' 30)
is "$st" error "a compose file changed after upload is refused at up"
like "$(app_col "$X" status_detail)" 'privileged' "reason names the rule"
is "$(docker ps -q --filter "label=$proj" | wc -l)" 0 "nothing started"

# ------------------------------------------------------------ delete
app_delete "$X"
app_gone "$X" 60
ok $? "delete -> row gone"
is "$(docker ps -aq --filter "label=slipway.app=$X" | wc -l)" 0 "no containers"
is "$(docker images -q --filter "label=slipway.app=$X" | wc -l)" 0 "no images"
is "$(docker volume ls -q --filter "label=slipway.app=$X" | wc -l)" 0 "no volumes"
is "$(docker network ls -q --filter "label=slipway.app=$X" | wc -l)" 0 "no networks"
ok $([ ! -e "$DATA/uploads/$X" ] && [ ! -e "$DATA/uploads/$X.compose.yml" ]; echo $?) "files and the normalised file gone"
ok $([ ! -e "$DATA/logs/$X.log" ]; echo $?) "log gone"
