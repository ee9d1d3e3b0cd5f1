#!/bin/bash
# Benchmark: deploy and restart of a busybox Dockerfile app (issue 4).
#  1. upload -> first 200 through nginx at /apps/<id>/ (the zip through
#     POST /upload, the agent's build, run, readiness probe and route),
#     against the raw steps timed in the same run: `docker build` (classic
#     builder) + `docker run` + an nginx location written + `nginx -s
#     reload` + polling until the first 200 through that nginx.  Each
#     round's www/ is new, so neither side hits the build cache for it
#     (the busybox layer is cached for both after a warm-up).  Goal: 1.5x.
#  2. restart of a stopped app -> first 200 (POST /restart/{id}), against
#     `docker start` of the raw container with its route kept.  Goal < 1 s.
# ROUNDS (default 3) each, interleaved; medians.  Prints table rows.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
# Build without --enable-asan for meaningful figures.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
. "$SLIPWAY_SRCDIR/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
REPRO="bash bench/deploy.sh"
docker_ensure >/dev/null ||	# stopped by bench_cleanup if started here
	{ echo "bench/deploy.sh: skipped: no Docker daemon" >&2; exit 0; }
bench_san_note

stack_start >/dev/null || exit 1
agent_setup >/dev/null || exit 1
RAW_NGINX= RAW_CIDS= RAW_IMGS=
bench_cleanup() {
	[ -n "$RAW_NGINX" ] && { kill "$RAW_NGINX" 2>/dev/null; wait "$RAW_NGINX" 2>/dev/null; }
	[ -n "$RAW_CIDS" ] && docker rm -f $RAW_CIDS >/dev/null 2>&1
	[ -n "$RAW_IMGS" ] && docker rmi -f $RAW_IMGS >/dev/null 2>&1
	stack_stop
	agent_docker_cleanup
	docker_stop_owned	# a daemon this run started
	[ -n "$T" ] && rm -rf "$T"
}
trap bench_cleanup EXIT
TOK=$(login admin "$ADMIN_PASSWORD")
AUTH="Authorization: Bearer $TOK"

# The raw side's nginx: one server, an include with the routes.
R=$T/raw; mkdir -p "$R/tmp"; : >"$R/routes.conf"
RAW_PORT=$(free_port)
user=""; [ "$(id -u)" = 0 ] && user="user root;"
cat >"$R/nginx.conf" <<CONF
$user
worker_processes auto;
pid $R/nginx.pid;
error_log $R/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $R/tmp;
	proxy_temp_path $R/tmp;
	fastcgi_temp_path $R/tmp;
	uwsgi_temp_path $R/tmp;
	scgi_temp_path $R/tmp;
	server {
		listen 127.0.0.1:$RAW_PORT;
		location / { return 404; }
		include $R/routes.conf;
	}
}
CONF
env -u NGINX nginx -p "$R" -c "$R/nginx.conf" &
RAW_NGINX=$!
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$RAW_PORT/" && break; sleep 0.1; done

until_200() {	# URL -> waits (10 ms polls, 60 s at most)
	local end=$(( $(date +%s) + 60 ))
	until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1")" = 200 ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.01
	done
}
raw_deploy() {	# DIR NAME -> ms to the first 200 through the raw nginx
	local t0 img cid p
	p=$(free_port)
	t0=$(date +%s%N)
	img=$(DOCKER_BUILDKIT=0 docker build -q --label slipway.test=1 --label "slipway.instance=$INST" "$1" 2>/dev/null) || return 1
	RAW_IMGS="$RAW_IMGS $img"
	cid=$(docker run -d --init --label slipway.test=1 --label "slipway.instance=$INST" \
	    -e "PORT=$p" -p "127.0.0.1:$p:$p" "$img") || return 1
	RAW_CIDS="$RAW_CIDS $cid"
	printf 'location /apps/%s/ { proxy_pass http://127.0.0.1:%s/; }\n' "$2" "$p" >>"$R/routes.conf"
	env -u NGINX nginx -p "$R" -c "$R/nginx.conf" -s reload 2>/dev/null || return 1
	until_200 "http://127.0.0.1:$RAW_PORT/apps/$2/" || return 1
	echo "$(ms_since "$t0") $cid"
}
ours_deploy() {	# ZIP NAME -> ms to the first 200 through the stack's nginx, app id
	local t0 st id
	t0=$(date +%s%N)
	st=$(upload "$TOK" "$1" "$2") || return 1
	[ "$st" = 202 ] || { echo "upload answered $st: $(body)" >&2; return 1; }
	id=$(jget 'd["app_id"]')
	until_200 "$APPS/apps/$id/" || return 1
	echo "$(ms_since "$t0") $id"
}
round_src() {	# NAME -> a fresh app dir (unique www) and its zip
	mk_app "$T/$1" 'exec /bin/busybox httpd -f -p $PORT -h /www'
	echo "$1 $(date +%s%N)" >"$T/$1/www/index.html"
	zip_dir "$T/$1" "$T/$1.zip"
}

# warm-up: the busybox layer cached for both sides
round_src warm-ours; ours_deploy "$T/warm-ours.zip" warm-ours >/dev/null || exit 1
round_src warm-raw; raw_deploy "$T/warm-raw" warm-raw >/dev/null || exit 1
ours=() raw=() OURS_IDS= RAW_LAST=
for i in $(seq 1 "$ROUNDS"); do
	round_src "raw-$i"
	read -r ms cid < <(raw_deploy "$T/raw-$i" "raw-$i") || exit 1
	raw+=("$ms"); RAW_LAST=$cid
	round_src "ours-$i"
	read -r ms id < <(ours_deploy "$T/ours-$i.zip" "ours-$i") || exit 1
	ours+=("$ms"); OURS_IDS="$OURS_IDS $id"
done
o=$(median "${ours[@]}"); r=$(median "${raw[@]}")
printf '| upload → first 200 through nginx, busybox Dockerfile app (median of %d) | %d ms | docker build + run + nginx reload: %d ms | %.2fx (goal ≤ 1.5x) | %s |\n' \
    "$ROUNDS" "$o" "$r" "$(echo "$o / $r" | bc -l)" "$REPRO"

# restart of a stopped app
set -- $OURS_IDS; A=$1
ours=() raw=()
for i in $(seq 1 "$ROUNDS"); do
	docker stop -t 5 "$RAW_LAST" >/dev/null
	t0=$(date +%s%N)
	docker start "$RAW_LAST" >/dev/null && until_200 "http://127.0.0.1:$RAW_PORT/apps/raw-$ROUNDS/" || exit 1
	raw+=("$(ms_since "$t0")")
	[ "$(api POST "/stop/$A" -H "$AUTH")" = 202 ] || exit 1
	app_wait "$A" stopped 30 >/dev/null || exit 1
	t0=$(date +%s%N)
	[ "$(api POST "/restart/$A" -H "$AUTH")" = 202 ] || exit 1
	until_200 "$APPS/apps/$A/" || exit 1
	ours+=("$(ms_since "$t0")")
	app_wait "$A" running 30 >/dev/null
done
o=$(median "${ours[@]}"); r=$(median "${raw[@]}")
printf '| restart of a stopped app → first 200 through nginx (median of %d) | %d ms (goal < 1 s) | docker start, route kept: %d ms | %.2fx | %s |\n' \
    "$ROUNDS" "$o" "$r" "$(echo "$o / $r" | bc -l)" "$REPRO"
