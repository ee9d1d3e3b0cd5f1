#!/bin/bash
# e2e: the agent with Docker apps (issue 4): build, run, readiness, logs,
# stop, restart without a rebuild, delete, a container killed behind the
# agent's back, the agent killed during a build, the agent restarted
# (adoption, orphan removal), dockerd restarted (only one this test
# started).  Real nginx, workers, agent and Docker; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

if ! curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1 &&
    ! command -v dockerd >/dev/null; then
	echo "1..0 # SKIP no Docker"
	exit 0
fi
BUSYBOX=$(command -v busybox)
case $(file -b "$BUSYBOX" 2>/dev/null) in
*static*) ;;
*) [ -x /bin/busybox ] && BUSYBOX=/bin/busybox ;;
esac

export SLIPWAY_START_TIMEOUT=20
# The stack talks to Docker through a proxy this test can cut.
PROXY_DIR=$(mktemp -d /tmp/slipway-dproxy.XXXXXX)
AGENT_CLEANUP_DIRS=$PROXY_DIR
docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
export SLIPWAY_DOCKER_SOCKET=$PROXY_DIR/docker.sock
docker_proxy_start "$SLIPWAY_DOCKER_SOCKET" || { echo "Bail out! docker proxy"; exit 1; }
stack_start || exit 1
agent_setup || exit 1
DATA=$T/var
APPS_DATA=$SLIPWAY_SRCDIR/tests/data/apps

# Sources as an upload leaves them: the fixture plus busybox.
src() {	# fixture -> dir
	rm -rf "$T/src-$1"
	cp -a "$APPS_DATA/$1" "$T/src-$1"
	cp "$BUSYBOX" "$T/src-$1/busybox"
	echo "$T/src-$1"
}

# ------------------------------------------------------------ deploy
t0=$(date +%s.%N)
A=$(app_create docker "$(src busybox-httpd)")
ok $? "queued docker app $A"
st=$(app_wait "$A" 'running|error' 60)
is "$st" running "app reaches running"
diag "deploy took $(echo "$(date +%s.%N) - $t0" | bc) s; detail: $(app_col "$A" status_detail)"
PORT=$(app_col "$A" port)
like "$PORT" '^[0-9]+$' "a host port is recorded"
base=${SLIPWAY_PORT_RANGE%-*}; top=${SLIPWAY_PORT_RANGE#*-}
ok $([ "$PORT" -ge "$base" ] && [ "$PORT" -le "$top" ]; echo $?) "port $PORT inside $SLIPWAY_PORT_RANGE"
is "$(DB "SELECT p.port FROM ports p JOIN apps a ON a.id = p.app_id WHERE a.app_id = '$A'")" "$PORT" "ports table holds it"
is "$(app_col "$A" container_port)" "$PORT" "no EXPOSE: the container listens on the host port"
is "$(curl -s -m 3 "http://127.0.0.1:$PORT/")" "<h1>slipway busybox app</h1>" "answers on 127.0.0.1:$PORT"
is "$(docker inspect -f '{{(index (index .HostConfig.PortBindings "'"$PORT"'/tcp") 0).HostIp}}' "slipway-$A" 2>/dev/null)" 127.0.0.1 "published on 127.0.0.1 only"
is "$(docker inspect -f '{{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Privileged}}' "slipway-$A")" "true unless-stopped false" "Init, restart policy, not privileged"
env_out=$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "slipway-$A")
like "$env_out" "^PORT=$PORT\$|
PORT=$PORT" "PORT in the environment"
like "$env_out" "GRADIO_ROOT_PATH=/apps/$A" "GRADIO_ROOT_PATH in the environment"
like "$(docker inspect -f '{{index .Config.Labels "slipway.app"}} {{index .Config.Labels "slipway.kind"}} {{index .Config.Labels "slipway.instance"}}' "slipway-$A")" "^$A docker $INST\$" "container labels"
like "$(docker image inspect -f '{{index .Config.Labels "slipway.app"}}' "slipway/$A:latest")" "^$A\$" "image tagged and labelled"
code=$(wait_200 "$APPS/apps/$A/" 5)
is "$code" 200 "served through the apps site at /apps/$A/"
hb=$(app_col "$A" last_heartbeat)
like "$hb" '^[0-9]+$' "last_heartbeat set"

LOG=$DATA/logs/$A.log
like "$(cat "$LOG")" 'Step 1/[0-9]+ : FROM scratch' "the log holds the build output"
like "$(cat "$LOG")" '\[slipway\] running' "the log holds the state changes"
for _ in $(seq 1 100); do grep -q "hello from the app on port $PORT" "$LOG" && break; sleep 0.1; done
like "$(cat "$LOG")" "hello from the app on port $PORT at /apps/$A" "container output copied into the log"

# A second app with one EXPOSEd port.
B=$(app_create docker "$(src busybox-expose)")
st=$(app_wait "$B" 'running|error' 60)
is "$st" running "EXPOSE app reaches running"
PB=$(app_col "$B" port)
is "$(app_col "$B" container_port)" 8080 "container port is the single EXPOSE"
ok $([ "$PB" != "$PORT" ]; echo $?) "a different host port ($PB)"
is "$(curl -s -m 3 "http://127.0.0.1:$PB/")" exposed "EXPOSE app answers on its host port"
like "$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "slipway-$B")" 'PORT=8080' "PORT is the container port"

# ------------------------------------------------------------ stop
app_stop "$A"
st=$(app_wait "$A" 'stopped|error' 20)
is "$st" stopped "stop -> stopped"
is "$(docker inspect -f '{{.State.Running}}' "slipway-$A")" false "container stopped"
code=$(http_code "$APPS/apps/$A/")
like "$code" '^(404|502)$' "route gone after stop ($code)"
is "$(app_col "$A" port)" "$PORT" "port kept while stopped"

# A container removed while stopped is made again from the built image.
docker rm "slipway-$A" >/dev/null
app_start "$A"
st=$(app_wait "$A" running 20)
is "$st" running "start after the container was removed -> running"
is "$(docker inspect -f '{{.Image}}' "slipway-$A")" "$(app_col "$A" image)" "new container from the same image"
is "$(wait_200 "$APPS/apps/$A/" 5)" 200 "served"
app_stop "$A"
st=$(app_wait "$A" stopped 20)

# ------------------------------------------------------------ restart
img1=$(app_col "$A" image)
steps1=$(grep -c 'Step 1/' "$LOG")
t0=$(date +%s%N)
app_restart "$A"
code=$(wait_200 "$APPS/apps/$A/" 10)
t1=$(date +%s%N)
is "$code" 200 "restart -> serving again"
ms=$(( (t1 - t0) / 1000000 ))
diag "restart to first 200 through nginx: $ms ms (the goal is checked by bench/deploy.sh)"
st=$(app_wait "$A" running 10)
is "$st" running "status running after restart"
is "$(app_col "$A" image)" "$img1" "same image (no rebuild)"
is "$(docker image inspect -f '{{.Id}}' "slipway/$A:latest")" "$img1" "tag still names the same image"
is "$(grep -c 'Step 1/' "$LOG")" "$steps1" "no build output added"

# restart of a running app
app_restart "$A"
sleep 0.3
st=$(app_wait "$A" running 10)
is "$st" running "restart of a running app"
is "$(wait_200 "$APPS/apps/$A/" 5)" 200 "serving after a restart while running"

# ------------------------------------------------------------ killed behind our back
docker kill "slipway-$B" >/dev/null
st=$(app_wait "$B" 'error|finished' 15)
like "$st" '^(error|finished)$' "container killed behind the agent's back -> $st"
like "$(app_col "$B" status_detail)" 'exited with code|killed' "reason recorded: $(app_col "$B" status_detail)"
sleep 1
like "$(http_code "$APPS/apps/$B/")" '^(404|502)$' "its route is gone"
is "$(docker inspect -f '{{.State.Running}}' "slipway-$B")" false "and it stays stopped"

# start it again: the same container comes back
app_start "$B"
st=$(app_wait "$B" running 20)
is "$st" running "start after the crash -> running"

# An app whose process ends with exit code 0 is finished.
F=$(app_create docker "$(src busybox-exit0)")
st=$(app_wait "$F" 'running|error' 60)
is "$st" running "short-lived app starts"
st=$(app_wait "$F" 'finished|error' 20)
is "$st" finished "exit code 0 -> finished"
like "$(app_col "$F" status_detail)" 'exited with code 0' "reason: $(app_col "$F" status_detail)"
for _ in $(seq 1 50); do [ "$(docker inspect -f '{{.State.Running}}' "slipway-$F")" = false ] && break; sleep 0.1; done
is "$(docker inspect -f '{{.State.Running}}' "slipway-$F")" false "not restarted by Docker"
app_delete "$F"
app_gone "$F" 30

# ------------------------------------------------------------ agent restart: adoption, orphans
cid_a=$(app_col "$A" docker_id)
sleep 2
nhello=$(grep -c "hello from the app on port $PORT" "$LOG")
docker run -d --label slipway.instance="$INST" --label slipway.app=zzzzzzzzzzzz \
    --label slipway.test=1 --name "slipway-orphan-$INST" \
    "slipway/$A:latest" /bin/busybox sleep 600 >/dev/null
ok $? "an orphan container with our instance label"
docker run -d --label slipway.app=yyyyyyyyyyyy --label slipway.test=1 \
    --label slipway.instance=0000000000000000 \
    --name "slipway-foreign-$INST" "slipway/$A:latest" /bin/busybox sleep 600 >/dev/null
ok $? "a foreign container (another instance)"
ap=$(agent_pid)
kill -TERM "$ap"
for _ in $(seq 1 100); do
	np=$(agent_pid); [ -n "$np" ] && [ "$np" != "$ap" ] && kill -0 "$np" 2>/dev/null && break
	sleep 0.1
done
ok $([ -n "$np" ] && [ "$np" != "$ap" ]; echo $?) "the agent came back (pid $np)"
for _ in $(seq 1 100); do
	[ -z "$(docker ps -aq --filter "name=slipway-orphan-$INST")" ] && break
	sleep 0.1
done
is "$(docker ps -aq --filter "name=slipway-orphan-$INST" | wc -l)" 0 "orphan removed at start"
is "$(docker ps -q --filter "name=slipway-foreign-$INST" | wc -l)" 1 "foreign container untouched"
docker rm -f "slipway-foreign-$INST" >/dev/null
is "$(app_col "$A" status)" running "running app still running"
is "$(app_col "$A" docker_id)" "$cid_a" "its container adopted (same id)"
is "$(http_code "$APPS/apps/$A/")" 200 "still served"
# The new log follower must not copy what the old one already did.
sleep 3
want=$(docker logs "slipway-$A" 2>&1 | grep -c "hello from the app on port $PORT")
ok $([ "$nhello" -ge "$want" ]; echo $?) "every output line of the container in the log ($nhello >= $want)"
is "$(grep -c "hello from the app on port $PORT" "$LOG")" "$nhello" "no output copied twice after the agent restart"

# ------------------------------------------------------------ kill -9 during a build
SLOW=$(src busybox-slow)
head -c 16 /dev/urandom | od -An -tx1 >"$SLOW/nonce"	# no cached layer
C=$(app_create docker "$SLOW")
st=$(app_wait "$C" building 20)
is "$st" building "slow app is building"
sleep 1
ap=$(agent_pid)
kill -9 "$ap"
ok $? "agent killed with SIGKILL during the build"
for _ in $(seq 1 100); do
	np=$(agent_pid); [ -n "$np" ] && [ "$np" != "$ap" ] && kill -0 "$np" 2>/dev/null && break
	sleep 0.1
done
ok $([ -n "$np" ] && [ "$np" != "$ap" ]; echo $?) "agent restarted by the supervisor"
st=$(app_wait "$C" 'running|error' 90)
like "$st" '^(running|error)$' "the app ends $st"
if [ "$st" = error ]; then
	like "$(app_col "$C" status_detail)" '.' "with a reason"
else
	is "$(curl -s -m 3 "http://127.0.0.1:$(app_col "$C" port)/")" "slow build done" "and serves"
fi
is "$(DB "SELECT count(*) FROM jobs WHERE state = 'running' AND app_id = (SELECT id FROM apps WHERE app_id = '$C')")" 0 "no job left running"

# ------------------------------------------------------------ Docker away and back
nrec=$(grep -c 'reconciling the apps table' "$DATA/logs/slipway.log")
docker_proxy_stop
for _ in $(seq 1 50); do grep -q 'event stream ended' "$DATA/logs/slipway.log" && break; sleep 0.1; done
like "$(cat "$DATA/logs/slipway.log")" 'event stream ended' "the agent notices Docker went away"
# Meanwhile A's container dies where the agent cannot see it.
docker kill "slipway-$A" >/dev/null
sleep 1
is "$(app_col "$A" status)" running "nothing decided while Docker is away"
docker_proxy_start "$SLIPWAY_DOCKER_SOCKET"
ok $? "Docker reachable again"
st=$(app_wait "$A" starting 15)
st=$(app_wait "$A" running 30)
is "$st" running "reconciled: the app whose container died meanwhile is started again"
is "$(wait_200 "$APPS/apps/$A/" 10)" 200 "and served"
ok $([ "$(grep -c 'reconciling the apps table' "$DATA/logs/slipway.log")" -gt "$nrec" ]; echo $?) "reconciled after reconnecting"

# ------------------------------------------------------------ a GPU that is not there
G=$(app_create docker "$(src busybox-httpd)" "" '{}' "" 1000)
st=$(app_wait "$G" 'running|error' 60)
is "$st" error "vram_required without a GPU -> error"
like "$(app_col "$G" status_detail)" 'no GPU with 1000 MiB free|GPU' "reason: $(app_col "$G" status_detail)"
app_delete "$G"
app_gone "$G" 30

# ------------------------------------------------------------ delete
img_a=$(app_col "$A" image)
app_delete "$A"
app_gone "$A" 30
ok $? "delete -> row gone"
is "$(docker_count ps "$A")" 0 "no container labelled for it"
is "$(docker_count images "$A")" 0 "no image labelled for it"
ok $(! docker image inspect "$img_a" >/dev/null 2>&1; echo $?) "its image is gone"
ok $([ ! -e "$DATA/uploads/$A" ]; echo $?) "its files are gone"
ok $([ ! -e "$DATA/logs/$A.log" ]; echo $?) "its log is gone"
is "$(DB "SELECT count(*) FROM ports WHERE port = $PORT")" 0 "its port is free"
for _ in $(seq 1 30); do [ "$(http_code "$APPS/apps/$A/")" = 404 ] && break; sleep 0.1; done
is "$(http_code "$APPS/apps/$A/")" 404 "route gone"
for X in $B $C; do
	app_delete "$X"
	app_gone "$X" 30
	ok $? "delete $X"
	is "$(docker_count ps "$X")$(docker_count images "$X")" 00 "nothing labelled left for $X"
done

# ------------------------------------------------------------ through the API
# The whole path as a user takes it: a zip with a Dockerfile uploaded,
# served, stopped, restarted and deleted through the control API.
TOK=$(login admin "$ADMIN_PASSWORD")
/usr/bin/python3 - "$(src busybox-httpd)" "$T/app.zip" <<'PYEOF'
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for f in files:
            p = os.path.join(root, f)
            z.write(p, os.path.join("myapp", os.path.relpath(p, src)))
PYEOF
st=$(api POST /upload -H "Authorization: Bearer $TOK" -F "file=@$T/app.zip" -F name=zipped-app)
is "$st" 202 "POST /upload of a zip answers 202"
if [ "$st" = 202 ]; then
	U=$(jget 'd["app_id"]')
	st=$(app_wait "$U" 'running|error' 60)
	is "$st" running "uploaded zip reaches running"
	is "$(wait_200 "$APPS/apps/$U/" 5)" 200 "uploaded app served at /apps/<id>/"
	is "$(api GET "/logs/$U" -H "Authorization: Bearer $TOK")" 200 "GET /logs"
	like "$(body)" 'Step 1/[0-9]+ : FROM scratch' "GET /logs shows the build"
	is "$(api POST "/stop/$U" -H "Authorization: Bearer $TOK")" 202 "POST /stop"
	is "$(app_wait "$U" stopped 20)" stopped "stopped"
	like "$(http_code "$APPS/apps/$U/")" '^(404|502)$' "not served while stopped"
	is "$(api POST "/restart/$U" -H "Authorization: Bearer $TOK")" 202 "POST /restart"
	is "$(wait_200 "$APPS/apps/$U/" 10)" 200 "served again"
	is "$(api DELETE "/apps/$U" -H "Authorization: Bearer $TOK")" 204 "DELETE /apps/<id>"
	app_gone "$U" 30
	ok $? "row gone"
	is "$(docker_count ps "$U")$(docker_count images "$U")" 00 "nothing labelled left"
	ok $([ ! -e "$DATA/uploads/$U" ] && [ ! -e "$DATA/logs/$U.log" ]; echo $?) "files and log gone"
fi

# ------------------------------------------------------------ dockerd restart
if [ -n "$DOCKERD_PID" ]; then
	D=$(app_create docker "$(src busybox-httpd)")
	st=$(app_wait "$D" 'running|error' 60)
	is "$st" running "app for the dockerd restart"
	diag "restarting the dockerd this test started (pid $DOCKERD_PID)"
	docker_restart_owned
	ok $? "dockerd restarted"
	is "$(wait_200 "$APPS/apps/$D/" 60)" 200 "the app is back after dockerd restarted"
	is "$(app_col "$D" status)" running "and running"
else
	echo "# dockerd restart not run: the daemon was already there (a shared daemon is never restarted)"
fi
