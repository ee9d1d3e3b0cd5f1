# tests/e2e/lib.sh: start the real stack (nginx, spawn-fcgi + workers, the
# agent, Docker if none answers) in a temporary directory on free ports, and
# TAP helpers.  Sourced by every e2e test.  Kills only what it started.
set -u

SRC=${SLIPWAY_SRCDIR:?run through make check}
BLD=${SLIPWAY_BUILDDIR:?run through make check}
T_N=0
T_FAILED=0
STACK_PID=
T=

ok() {	# ok <status> <name>: status 0 passes
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		echo "not ok $T_N - $2"
		T_FAILED=$((T_FAILED + 1))
	fi
}
is() {	# is <got> <want> <name>
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$1', want '$2'"; fi
}
like() {	# like <got> <extended regex> <name>
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3"; echo "#   got '$(printf '%s' "$1" | head -c 400)', want /$2/"; fi
}
diag() { echo "# $*"; }

# Docker: a test that finds no daemon starts one it owns (and stops it
# last, after its cleanup); a daemon that was already there is shared and
# never restarted or stopped.
DOCKERD_PID=
docker_answers() {
	curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping 2>/dev/null | grep -q OK
}
docker_ensure() {
	docker_answers && return 0
	command -v dockerd >/dev/null || return 1
	dockerd >>"/tmp/slipway-test-dockerd.$$.log" 2>&1 &
	DOCKERD_PID=$!
	local i
	for i in $(seq 1 200); do
		docker_answers && { diag "started dockerd (pid $DOCKERD_PID)"; return 0; }
		kill -0 "$DOCKERD_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "dockerd did not start:"; tail -5 "/tmp/slipway-test-dockerd.$$.log" | sed 's/^/# /'
	return 1
}
docker_restart_owned() {	# restart the daemon this test started
	[ -n "$DOCKERD_PID" ] || return 1
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
	docker_ensure
}
docker_stop_owned() {
	[ -n "$DOCKERD_PID" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null
	wait "$DOCKERD_PID" 2>/dev/null
	DOCKERD_PID=
	rm -f "/tmp/slipway-test-dockerd.$$.log"
}

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stack_start() {	# SLIPWAY_NO_DOCKER=1: a stack without Docker
	[ "${SLIPWAY_NO_DOCKER:-0}" = 1 ] ||
	    docker_ensure || diag "no Docker daemon: Docker parts will fail"
	T=$(mktemp -d /tmp/slipway-e2e.XXXXXX)
	CONTROL_PORT=$(free_port)
	APPS_PORT=$(free_port)
	while [ "$APPS_PORT" = "$CONTROL_PORT" ]; do APPS_PORT=$(free_port); done
	API=http://127.0.0.1:$CONTROL_PORT
	APPS=http://127.0.0.1:$APPS_PORT
	ADMIN_PASSWORD=admin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
	export SLIPWAY_DATA_DIR=$T/var SLIPWAY_CONTROL_PORT=$CONTROL_PORT \
	    SLIPWAY_APPS_PORT=$APPS_PORT ADMIN_PASSWORD SLIPWAY_WORKERS=${SLIPWAY_WORKERS:-8}
	# A port range of our own so parallel stacks never collide.
	local base=$(( (RANDOM % 400) * 100 + 20000 ))
	export SLIPWAY_PORT_RANGE=${SLIPWAY_PORT_RANGE:-$base-$((base + 99))}
	bash "$SRC/tools/up.sh" >"$T/up.log" 2>&1 &
	STACK_PID=$!
	local i
	for i in $(seq 1 300); do
		if curl -s -o /dev/null -m 1 "$API/health"; then
			diag "stack up in $T (pid $STACK_PID) after $i polls"
			return 0
		fi
		kill -0 "$STACK_PID" 2>/dev/null || break
		sleep 0.1
	done
	diag "stack did not come up:"; sed 's/^/# /' "$T/up.log"
	return 1
}

stack_stop() {
	if [ -n "$STACK_PID" ]; then
		kill -TERM "$STACK_PID" 2>/dev/null
		wait "$STACK_PID" 2>/dev/null
		STACK_PID=
	fi
}

# Remove what this stack's agent left in Docker (everything it makes
# carries its instance label), so no test leaves containers behind.
stack_docker_cleanup() {
	[ -n "$T" ] && [ -f "$T/var/slipway.db" ] && docker_answers || return 0
	local inst ids
	inst=$(sqlite3 "$T/var/slipway.db" "SELECT printf('%016x', value) FROM meta WHERE key = 'agent_instance'" 2>/dev/null)
	[ -n "$inst" ] || return 0
	ids=$(docker ps -aq --filter "label=slipway.instance=$inst")
	[ -n "$ids" ] && docker rm -f -v $ids >/dev/null 2>&1
	ids=$(docker images -q --filter "label=slipway.instance=$inst" | sort -u)
	[ -n "$ids" ] && docker rmi -f $ids >/dev/null 2>&1
	ids=$(docker volume ls -q --filter "label=slipway.instance=$inst")
	[ -n "$ids" ] && docker volume rm $ids >/dev/null 2>&1
	ids=$(docker network ls -q --filter "label=slipway.instance=$inst")
	[ -n "$ids" ] && docker network rm $ids >/dev/null 2>&1
	return 0
}

e2e_finish() {
	local rc=$?
	stack_stop
	stack_docker_cleanup
	docker_stop_owned
	if [ "$T_FAILED" -gt 0 ] && [ -n "$T" ]; then
		diag "failures: logs kept in $T"
		[ -f "$T/var/logs/slipway.log" ] && tail -n 40 "$T/var/logs/slipway.log" | sed 's/^/# /'
	elif [ -n "$T" ]; then
		rm -rf "$T"
	fi
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ] && [ "$T_N" -gt 0 ] && exit 0
	exit 1
}

# curl wrappers: body to $T/body, status echoed.
api() {	# api METHOD PATH [curl args...]
	local m=$1 p=$2; shift 2
	curl -s -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$API$p"
}
body() { cat "$T/body"; }
jget() {	# jget <python expr on d> : reads $T/body
	/usr/bin/python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)" 2>/dev/null
}
login() {	# login user pass -> prints token
	curl -s -X POST -d "username=$1&password=$2" "$API/login" |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null
}
