# bench/lib.sh: helpers shared by the benchmarks (sourced after
# tests/e2e/lib.sh).
#
#   hello_start          the nginx -> FastCGI "hello" ceiling: bench/fcgi-hello
#                        behind its own nginx with the stack's FastCGI
#                        settings and worker count; sets HELLO_URL
#   hello_stop
#   wrk_rps URL [wrk args]  -> "req/s p50 p99 non2xx errors" (BENCH_SECONDS,
#                        BENCH_CONNS)
#   bench_san_note       warns when the build is a sanitizer build
#   ms_since T0_NS       milliseconds since a `date +%s%N`
#   median N...          median of numbers
#   hwm_kb PID           VmHWM of a process in kB (0 when gone)

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_CONNS=${BENCH_CONNS:-32}
HELLO_PIDS= HELLO_NGINX= HELLO_URL=

hello_start() {
	local h=$T/hello port user="" i
	mkdir -p "$h/tmp"
	port=$(free_port)
	spawn-fcgi -s "$h/fcgi.sock" -M 0600 -F "${SLIPWAY_WORKERS:-8}" -P "$h/fcgi.pid" -- \
	    "$BLD/bench/fcgi-hello" >/dev/null || return 1
	# spawn-fcgi -F writes one pid per forked child
	HELLO_PIDS=$(cat "$h/fcgi.pid")
	[ "$(id -u)" = 0 ] && user="user root;"
	cat >"$h/nginx.conf" <<CONF
$user
worker_processes auto;
pid $h/nginx.pid;
error_log $h/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
	access_log $h/access.log;
	client_body_temp_path $h/tmp;
	fastcgi_temp_path $h/tmp;
	proxy_temp_path $h/tmp;
	uwsgi_temp_path $h/tmp;
	scgi_temp_path $h/tmp;
	server {
		listen 127.0.0.1:$port;
		location / {
			include /etc/nginx/fastcgi_params;
			fastcgi_pass unix:$h/fcgi.sock;
			fastcgi_request_buffering off;
			fastcgi_buffering off;
		}
	}
}
CONF
	env -u NGINX nginx -p "$h" -c "$h/nginx.conf" &
	HELLO_NGINX=$!
	HELLO_URL=http://127.0.0.1:$port/
	for i in $(seq 1 50); do
		curl -s -o /dev/null "$HELLO_URL" && return 0
		sleep 0.1
	done
	return 1
}

hello_stop() {
	[ -n "$HELLO_NGINX" ] && { kill "$HELLO_NGINX" 2>/dev/null; wait "$HELLO_NGINX" 2>/dev/null; }
	[ -n "$HELLO_PIDS" ] && kill $HELLO_PIDS 2>/dev/null
	HELLO_NGINX= HELLO_PIDS=
}

wrk_rps() {	# URL [wrk args]
	wrk -t2 -c"$BENCH_CONNS" -d"${BENCH_SECONDS}s" --latency "$@" 2>/dev/null | awk '
		/Requests\/sec/ { r = $2 }
		/^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		/Non-2xx/ { bad = $NF }
		/Socket errors/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
		END { printf "%s %s %s %d %d\n", r, p50, p99, bad, err }'
}

bench_san_note() {
	grep -q '^SAN_CFLAGS = -f' "$BLD/Makefile" 2>/dev/null &&
		echo "note: $BLD is a sanitizer build: figures are pessimistic" >&2
	return 0
}

ms_since() {
	echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

hwm_kb() {
	awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}
