#!/bin/bash
# Benchmark: GET /users/me through nginx -> FastCGI -> SQLite, beside the
# nginx -> FastCGI "hello" ceiling (bench/fcgi-hello, same worker count,
# same nginx settings) measured in the same run.  Prints one table row.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
#   BENCH_SECONDS (default 10), BENCH_CONNS (default 32)
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-32}
WORKERS=${SLIPWAY_WORKERS:-8}
HELLO_PIDS= HELLO_NGINX=
cleanup() {
	[ -n "$HELLO_NGINX" ] && kill "$HELLO_NGINX" 2>/dev/null
	[ -n "$HELLO_PIDS" ] && kill $HELLO_PIDS 2>/dev/null
	stack_stop
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

stack_start >/dev/null || exit 1
curl -s -o /dev/null -X POST -d 'username=bench&password=bench-pass-1' "$API/register"
TOK=$(login bench bench-pass-1)
[ -n "$TOK" ] || { echo "login failed" >&2; exit 1; }

# The ceiling: the same nginx build and FastCGI path, a handler that does nothing.
H=$T/hello; mkdir -p "$H/tmp"
HPORT=$(free_port)
spawn-fcgi -s "$H/fcgi.sock" -M 0600 -F "$WORKERS" -P "$H/fcgi.pid" -- "$BLD/bench/fcgi-hello" >/dev/null
HELLO_PIDS=$(cat "$H/fcgi.pid")
user=""; [ "$(id -u)" = 0 ] && user="user root;"
cat >"$H/nginx.conf" <<CONF
$user
worker_processes auto;
pid $H/nginx.pid;
error_log $H/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
	access_log $H/access.log;
	client_body_temp_path $H/tmp;
	fastcgi_temp_path $H/tmp;
	proxy_temp_path $H/tmp;
	uwsgi_temp_path $H/tmp;
	scgi_temp_path $H/tmp;
	server {
		listen 127.0.0.1:$HPORT;
		location / {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$H/fcgi.sock;
			fastcgi_request_buffering off;
			fastcgi_buffering off;
		}
	}
}
CONF
env -u NGINX nginx -p "$H" -c "$H/nginx.conf" &
HELLO_NGINX=$!
for i in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$HPORT/" && break; sleep 0.1; done

rps() {	# rps URL [wrk args] -> requests/s and p50/p99 latency
	wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" 2>/dev/null | awk '
		/Requests\/sec/ { r = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		END { printf "%s %s %s %s\n", r, p50, p99, bad + 0 }'
}
# warm up both
wrk -t1 -c4 -d1s "http://127.0.0.1:$HPORT/" >/dev/null 2>&1
wrk -t1 -c4 -d1s -H "Authorization: Bearer $TOK" "$API/users/me" >/dev/null 2>&1
read -r h_rps h_p50 h_p99 h_bad < <(rps "http://127.0.0.1:$HPORT/")
read -r u_rps u_p50 u_p99 u_bad < <(rps -H "Authorization: Bearer $TOK" "$API/users/me")
ratio=$(awk -v a="$u_rps" -v b="$h_rps" 'BEGIN { printf "%.0f%%", 100 * a / b }')
printf '| GET /users/me (token lookup in SQLite) | %s req/s (p50 %s, p99 %s, non-2xx %s) | hello %s req/s (p50 %s) | %s | make bench |\n' \
    "$u_rps" "$u_p50" "$u_p99" "$u_bad" "$h_rps" "$h_p50" "$ratio"
