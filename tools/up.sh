#!/bin/bash
# slipway stack in the foreground: nginx (control + apps sites), the
# FastCGI workers (spawn-fcgi + slipway-fcgi master) and the agent, all
# supervised: one that dies is started again and the log says so.  Docker
# is started if no daemon answers.  Ctrl-C / SIGTERM stops everything this
# script started, and only that.
#
# Environment (see README): SLIPWAY_DATA_DIR, SLIPWAY_CONTROL_PORT,
# SLIPWAY_APPS_PORT, SLIPWAY_BIND, SLIPWAY_MAX_UPLOAD, SLIPWAY_WORKERS,
# ADMIN_PASSWORD, SLIPWAY_NO_DOCKER=1 (do not start dockerd).
set -u

SRC=${SLIPWAY_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
BLD=${SLIPWAY_BUILDDIR:-$SRC}
# (nginx reads a variable named NGINX as inherited sockets: never set it.)
unset NGINX
NGINX_BIN=${SLIPWAY_NGINX:-nginx}
SPAWN_FCGI=${SLIPWAY_SPAWN_FCGI:-spawn-fcgi}

DATA=${SLIPWAY_DATA_DIR:-./var}
mkdir -p "$DATA" || exit 1
DATA=$(cd "$DATA" && pwd)
export SLIPWAY_DATA_DIR=$DATA
CONTROL_PORT=${SLIPWAY_CONTROL_PORT:-8000}
APPS_PORT=${SLIPWAY_APPS_PORT:-8080}
BIND=${SLIPWAY_BIND:-127.0.0.1}
MAX_UPLOAD=${SLIPWAY_MAX_UPLOAD:-2g}
WORKERS=${SLIPWAY_WORKERS:-8}
DOCKER_SOCK=${SLIPWAY_DOCKER_SOCKET:-/var/run/docker.sock}
export SLIPWAY_NGINX=$NGINX_BIN
[ -n "${SLIPWAY_TEMPLATES_DIR:-}" ] || export SLIPWAY_TEMPLATES_DIR=$SRC/templates

say() { printf '%s slipway-up: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { say "$*"; exit 1; }

# Operator values reach nginx config: validate them strictly.
case $CONTROL_PORT in ''|*[!0-9]*) die "bad SLIPWAY_CONTROL_PORT";; esac
case $APPS_PORT in ''|*[!0-9]*) die "bad SLIPWAY_APPS_PORT";; esac
case $WORKERS in ''|*[!0-9]*) die "bad SLIPWAY_WORKERS";; esac
[[ $MAX_UPLOAD =~ ^[0-9]{1,12}[kKmMgG]?$ ]] || die "bad SLIPWAY_MAX_UPLOAD"
# nginx limits the whole body: the file plus up to 1 MiB of form fields
# and multipart framing, as the workers allow (src/upload.c).
case $MAX_UPLOAD in
*[kK]) BODY_MAX=$(( ${MAX_UPLOAD%?} * 1024 )) ;;
*[mM]) BODY_MAX=$(( ${MAX_UPLOAD%?} * 1024 * 1024 )) ;;
*[gG]) BODY_MAX=$(( ${MAX_UPLOAD%?} * 1024 * 1024 * 1024 )) ;;
*) BODY_MAX=$MAX_UPLOAD ;;
esac
BODY_MAX=$(( BODY_MAX + 1024 * 1024 ))
[[ $BIND =~ ^[0-9a-fA-F.:]+$|^\[[0-9a-fA-F:]+\]$ ]] || die "bad SLIPWAY_BIND"
[[ $DATA =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "data dir path has unsafe characters: $DATA"
[[ $SRC =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "source path has unsafe characters: $SRC"

PIDS_NGINX= PID_FCGI= PID_AGENT= PID_DOCKERD=
STOPPING=0

docker_ping() {
	curl -s -m 2 --unix-socket "$DOCKER_SOCK" http://docker/_ping 2>/dev/null | grep -q OK
}

start_docker() {
	docker_ping && return 0
	if [ "${SLIPWAY_NO_DOCKER:-0}" = 1 ]; then
		say "no Docker daemon answers at $DOCKER_SOCK (SLIPWAY_NO_DOCKER=1: not starting one)"
		return 0
	fi
	command -v dockerd >/dev/null || { say "dockerd not installed"; return 1; }
	say "no Docker daemon answers: starting dockerd (log: $DATA/logs/dockerd.log)"
	dockerd >>"$DATA/logs/dockerd.log" 2>&1 &
	PID_DOCKERD=$!
	for _ in $(seq 1 150); do
		docker_ping && { say "dockerd ready (pid $PID_DOCKERD)"; return 0; }
		kill -0 "$PID_DOCKERD" 2>/dev/null || { say "dockerd exited; see $DATA/logs/dockerd.log"; PID_DOCKERD=; return 1; }
		sleep 0.1
	done
	say "dockerd did not answer in 15 s"
	return 1
}

render_nginx() {
	local user=""
	[ "$(id -u)" = 0 ] && user="user root;"
	mkdir -p "$DATA/nginx/tmp" "$DATA/logs" "$DATA/run"
	sed -e "s|@DATA_DIR@|$DATA|g" \
	    -e "s|@WWW_DIR@|$SRC/www|g" \
	    -e "s|@BIND@|$BIND|g" \
	    -e "s|@CONTROL_PORT@|$CONTROL_PORT|g" \
	    -e "s|@APPS_PORT@|$APPS_PORT|g" \
	    -e "s|@MAX_BODY@|$BODY_MAX|g" \
	    -e "s|@NGINX_MIME@|/etc/nginx/mime.types|g" \
	    -e "s|@NGINX_FASTCGI_PARAMS@|/etc/nginx/fastcgi_params|g" \
	    -e "s|@USER_DIRECTIVE@|$user|g" \
	    "$SRC/nginx/nginx.conf.in" >"$DATA/nginx/nginx.conf.new" || return 1
	mv "$DATA/nginx/nginx.conf.new" "$DATA/nginx/nginx.conf"
	# The apps include: rendered from the database by slipway-ctl routes;
	# until then (first start) an apps server with no routes.
	if [ ! -s "$DATA/nginx/apps.conf" ]; then
		printf 'server {\n\tlisten %s:%s;\n\tlocation / { return 404; }\n}\n' \
		    "$BIND" "$APPS_PORT" >"$DATA/nginx/apps.conf"
	fi
}

start_nginx() {
	# In a process group of its own (set -m), led by the master: if the
	# master dies, its workers keep the listening sockets and keep serving
	# the old configuration, and a new master cannot bind.  The group
	# finds them (stop_nginx_group).
	set -m
	"$NGINX_BIN" -p "$DATA/nginx" -c "$DATA/nginx/nginx.conf" -e "$DATA/logs/nginx-error.log" \
	    >>"$DATA/logs/nginx.log" 2>&1 &
	PIDS_NGINX=$!
	set +m
	say "nginx started (pid $PIDS_NGINX): control http://$BIND:$CONTROL_PORT/ apps http://$BIND:$APPS_PORT/apps/<id>/"
}

# Workers left behind by a master that died: SIGQUIT closes their
# listening sockets at once and lets requests in flight finish.
stop_nginx_group() {	# SIGNAL
	[ -n "$PIDS_NGINX" ] && kill -"$1" -- "-$PIDS_NGINX" 2>/dev/null
	return 0
}

start_fcgi() {
	rm -f "$DATA/run/fcgi.sock"
	"$SPAWN_FCGI" -n -s "$DATA/run/fcgi.sock" -M 0600 -- \
	    "$BLD/slipway-fcgi" --workers "$WORKERS" 2>>"$DATA/logs/slipway.log" &
	PID_FCGI=$!
	say "FastCGI workers started (master pid $PID_FCGI, $WORKERS workers)"
}

start_agent() {
	"$BLD/slipway-agent" 2>>"$DATA/logs/slipway.log" &
	PID_AGENT=$!
	say "agent started (pid $PID_AGENT)"
}

stop_all() {
	STOPPING=1
	say "stopping"
	local p
	for p in $PID_AGENT $PID_FCGI $PIDS_NGINX; do
		kill -TERM "$p" 2>/dev/null
	done
	stop_nginx_group TERM
	for p in $PID_AGENT $PID_FCGI $PIDS_NGINX; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$PID_DOCKERD" ]; then
		say "stopping the dockerd this script started (pid $PID_DOCKERD)"
		kill -TERM "$PID_DOCKERD" 2>/dev/null
		wait "$PID_DOCKERD" 2>/dev/null
	fi
	rm -f "$DATA/run/agent.pid"
	say "stopped"
	exit 0
}
trap stop_all INT TERM HUP

mkdir -p "$DATA/logs"
start_docker || say "continuing without Docker: apps cannot run until a daemon answers"
# The base image of the static-site template (FROM scratch + busybox-static).
docker_ping && { sh "$SRC/tools/make-busybox-image.sh" >/dev/null 2>&1 ||
	say "static-site template: could not build the slipway/busybox base image"; }
render_nginx || die "cannot render nginx config"
"$BLD/slipway-ctl" init || die "slipway-ctl init failed"
"$NGINX_BIN" -t -q -p "$DATA/nginx" -c "$DATA/nginx/nginx.conf" -e "$DATA/logs/nginx-error.log" ||
	die "nginx config test failed"
start_fcgi
start_agent
start_nginx
# Apps that were running keep their routes (the include is kept on disk);
# re-render once now that nginx runs.
( sleep 0.5; "$BLD/slipway-ctl" routes >/dev/null 2>&1 ) &
say "ready: http://$BIND:$CONTROL_PORT/ (log: $DATA/logs/slipway.log)"

# Supervise: restart whatever dies, a few seconds apart at most.  wait -n
# alone can miss a child: one that dies while this loop sleeps or restarts
# another is reaped and reported then, and wait -n waits for the next one.
# A ticker job makes it return at least once a second.
while :; do
	sleep 1 &
	TICK=$!
	wait -n 2>/dev/null
	kill "$TICK" 2>/dev/null
	wait "$TICK" 2>/dev/null
	[ "$STOPPING" = 1 ] && break
	if [ -n "$PIDS_NGINX" ] && ! kill -0 "$PIDS_NGINX" 2>/dev/null; then
		say "nginx (pid $PIDS_NGINX) died: restarting"
		stop_nginx_group QUIT
		sleep 0.5; start_nginx
	fi
	if [ -n "$PID_FCGI" ] && ! kill -0 "$PID_FCGI" 2>/dev/null; then
		say "FastCGI master (pid $PID_FCGI) died: restarting"
		sleep 0.5; start_fcgi
	fi
	if [ -n "$PID_AGENT" ] && ! kill -0 "$PID_AGENT" 2>/dev/null; then
		say "agent (pid $PID_AGENT) died: restarting"
		sleep 0.5; start_agent
	fi
	if [ -n "$PID_DOCKERD" ] && ! kill -0 "$PID_DOCKERD" 2>/dev/null; then
		say "dockerd (pid $PID_DOCKERD) died: restarting"
		PID_DOCKERD=; start_docker
	fi
	sleep 0.2
done
