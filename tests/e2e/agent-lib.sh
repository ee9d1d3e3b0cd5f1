# tests/e2e/agent-lib.sh: helpers for the agent e2e tests (sourced after
# lib.sh, once stack_start has run).  Apps are put in the queue the way the
# request side does it (one transaction: apps row + job, then a wake-up
# datagram), so these tests do not depend on the upload endpoint.
#
#   agent_setup              INST (this stack's instance label), cleanup trap
#   app_create TYPE DIR [ENTRY] [ENVS_JSON] [PARAMS_JSON]
#                            copies DIR to uploads/<id>, queues a deploy;
#                            prints the new app_id
#   app_stop|app_start|app_restart|app_delete ID
#   app_col ID COLUMN        one column of the apps row
#   app_wait ID REGEX SECS   waits until the status matches; prints it
#   app_gone ID SECS         waits until the row is gone
#   agent_wake               the datagram the request side sends
#   http_code URL            status of a GET (000 when nothing answers)
# Everything Docker holds with this stack's instance label is removed on
# exit (after the stack stopped), and nothing else.

DB() {
	sqlite3 -cmd '.timeout 10000' "$T/var/slipway.db" "$@"
}

agent_wake() {
	/usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.sendto(b"j", sys.argv[1])
except OSError:
    pass' "$T/var/run/agent.sock"
}

agent_pid() {
	cat "$T/var/run/agent.pid" 2>/dev/null
}

new_app_id() {
	head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 12
}

# Quote for SQL ('' doubling).
sqlq() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

app_create() {	# TYPE DIR [ENTRY] [ENVS] [PARAMS] [VRAM]
	local type=$1 dir=$2 entry=${3:-} envs=${4:-'{}'} params=${5:-} vram=${6:-0}
	local id e p
	id=$(new_app_id)
	mkdir -p "$T/var/uploads"
	cp -a "$dir" "$T/var/uploads/$id" || return 1
	if [ -n "$entry" ]; then e=$(sqlq "$entry"); else e=NULL; fi
	if [ -n "$params" ]; then p=$(sqlq "$params"); else p=NULL; fi
	DB "BEGIN IMMEDIATE;
INSERT INTO apps(app_id, name, type, status, desired, owner_id, entry, envs,
    params, vram_required, created_at, updated_at)
  VALUES ('$id', 'app-$id', '$type', 'queued', 'running',
    (SELECT id FROM users WHERE username = 'admin'), $e, $(sqlq "$envs"), $p,
    $vram, strftime('%s'), strftime('%s'));
INSERT INTO jobs(app_id, kind, state, created_at)
  VALUES (last_insert_rowid(), 'deploy', 'pending', strftime('%s'));
COMMIT;" || return 1
	agent_wake
	echo "$id"
}

app_job() {	# ID KIND DESIRED
	DB "BEGIN IMMEDIATE;
UPDATE apps SET desired = '$3', updated_at = strftime('%s') WHERE app_id = '$1';
INSERT INTO jobs(app_id, kind, state, created_at)
  SELECT id, '$2', 'pending', strftime('%s') FROM apps WHERE app_id = '$1';
COMMIT;"
	agent_wake
}
app_stop() { app_job "$1" stop stopped; }
app_start() { app_job "$1" start running; }
app_restart() { app_job "$1" restart running; }
app_delete() {
	DB "BEGIN IMMEDIATE;
UPDATE apps SET status = 'deleting', desired = 'deleted',
  updated_at = strftime('%s') WHERE app_id = '$1';
UPDATE jobs SET state = 'cancelled', finished_at = strftime('%s')
  WHERE state = 'pending' AND app_id = (SELECT id FROM apps WHERE app_id = '$1');
INSERT INTO jobs(app_id, kind, state, created_at)
  SELECT id, 'delete', 'pending', strftime('%s') FROM apps WHERE app_id = '$1';
COMMIT;"
	agent_wake
}

app_col() {
	DB "SELECT $2 FROM apps WHERE app_id = '$1'"
}

app_wait() {	# ID REGEX SECS
	local end=$(( $(date +%s) + $3 )) st
	while :; do
		st=$(app_col "$1" status)
		if printf '%s' "$st" | grep -Eqx -- "$2"; then
			echo "$st"; return 0
		fi
		[ "$(date +%s)" -ge "$end" ] && { echo "$st"; return 1; }
		sleep 0.1
	done
}

app_gone() {	# ID SECS
	local end=$(( $(date +%s) + $2 ))
	while [ -n "$(DB "SELECT 1 FROM apps WHERE app_id = '$1'")" ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.1
	done
	return 0
}

http_code() {
	curl -s -o /dev/null -m 3 -w '%{http_code}' "$@"
}

# Wait until URL answers 200 (at most SECS); prints the code seen last.
wait_200() {	# URL SECS
	local end=$(( $(date +%s) + $2 )) c
	while :; do
		c=$(http_code "$1")
		[ "$c" = 200 ] && { echo 200; return 0; }
		[ "$(date +%s)" -ge "$end" ] && { echo "$c"; return 1; }
		sleep 0.1
	done
}

# Everything Docker holds for this stack (instance label), after it stopped.
agent_docker_cleanup() {
	[ -n "${INST:-}" ] || return 0
	local ids
	ids=$(docker ps -aq --filter "label=slipway.instance=$INST"; docker ps -aq --filter "name=-$INST\$")
	[ -n "$ids" ] && docker rm -f -v $ids >/dev/null 2>&1
	ids=$(docker images -q --filter "label=slipway.instance=$INST" | sort -u)
	[ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
	ids=$(docker volume ls -q --filter "label=slipway.instance=$INST")
	[ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
	ids=$(docker network ls -q --filter "label=slipway.instance=$INST")
	[ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
	return 0
}

# Pids this test started besides the stack (killed after it, by pid).
AGENT_CLEANUP_PIDS=
AGENT_CLEANUP_DIRS=

agent_finish() {
	local p
	# The agent's processes print sanitizer reports into the log.
	if [ -n "$T" ] && [ -f "$T/var/logs/slipway.log" ]; then
		if grep -q 'Sanitizer' "$T/var/logs/slipway.log"; then
			ok 1 "no sanitizer reports in the log"
			grep -A12 'Sanitizer' "$T/var/logs/slipway.log" | head -40 | sed 's/^/# /'
		else
			ok 0 "no sanitizer reports in the log"
		fi
	fi
	stack_stop
	agent_docker_cleanup
	for p in $AGENT_CLEANUP_PIDS; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in $AGENT_CLEANUP_DIRS; do
		rm -rf "$p"
	done
	e2e_finish
}

# A unix socket proxy in front of the Docker socket: stopping it looks to
# the agent like the daemon going away, without touching the daemon.
docker_proxy_start() {	# LISTEN_PATH [TARGET]
	/usr/bin/python3 - "$1" "${2:-/var/run/docker.sock}" <<'PYEOF' &
import os, signal, socket, sys, threading
listen, target = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
try:
    os.unlink(listen)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen)
srv.listen(128)
def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = srv.accept()
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        u.connect(target)
    except OSError:
        c.close()
        continue
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
PYEOF
	DOCKER_PROXY_PID=$!
	AGENT_CLEANUP_PIDS="$AGENT_CLEANUP_PIDS $DOCKER_PROXY_PID"
	local i
	for i in $(seq 1 50); do
		curl -s -m 1 --unix-socket "$1" http://d/_ping 2>/dev/null | grep -q OK && return 0
		sleep 0.1
	done
	return 1
}
docker_proxy_stop() {
	kill -TERM "$DOCKER_PROXY_PID" 2>/dev/null
	wait "$DOCKER_PROXY_PID" 2>/dev/null
}

agent_setup() {
	local i
	for i in $(seq 1 100); do
		INST=$(DB "SELECT printf('%016x', value) FROM meta WHERE key = 'agent_instance'" 2>/dev/null)
		[ -n "$INST" ] && [ -S "$T/var/run/agent.sock" ] && break
		sleep 0.1
	done
	[ -n "$INST" ] || { diag "the agent did not start"; return 1; }
	trap agent_finish EXIT
	diag "agent instance $INST"
}

# Docker objects labelled for one app (containers, images).
docker_count() {	# ps|images ID
	if [ "$1" = ps ]; then
		docker ps -aq --filter "label=slipway.app=$2" | wc -l
	else
		docker images -q --filter "label=slipway.app=$2" | sort -u | wc -l
	fi
}
