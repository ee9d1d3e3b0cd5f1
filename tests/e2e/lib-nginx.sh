# lib-nginx.sh: helpers for tests/e2e/routes.sh and bench/routes.sh (sourced).
#
# A real nginx in a temporary directory, configured from nginx/nginx.conf.in,
# with the apps include written by ngxconf through tests/e2e/ngx-driver.c.
# Everything started is recorded in $LN_PIDS and killed by ln_cleanup (by
# pid, never by name).
#
#   ln_setup            T=temp dir, builds the driver, renders nginx.conf,
#                       exports the SLIPWAY_* environment
#   ln_free_port        prints a free TCP port on 127.0.0.1
#   ln_start_nginx      starts nginx (daemon off) and waits for both ports
#   ln_bg CMD...        starts CMD in the background, records its pid
#   ln_wait_port PORT   waits until something listens there
#   ln_cleanup          kills what was started, removes $T

: "${SLIPWAY_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${NGINX:=nginx}"
LN_PIDS=""
LN_NGINX_PID=""
PY=/usr/bin/python3

ln_have() {
	command -v "$1" >/dev/null 2>&1
}

# Prints the reason to skip, if any.
ln_skip_reason() {
	if ! ln_have "$NGINX" && [ ! -x /usr/sbin/nginx ]; then
		echo "nginx not found"; return
	fi
	ln_have curl || { echo "curl not found"; return; }
	[ -x "$PY" ] || { echo "$PY not found"; return; }
	[ -n "${SLIPWAY_BUILDDIR:-}" ] && [ -f "$SLIPWAY_BUILDDIR/libslipway.a" ] ||
		{ echo "SLIPWAY_BUILDDIR with libslipway.a not set"; return; }
	[ -f /etc/nginx/mime.types ] || { echo "no /etc/nginx/mime.types"; return; }
}

ln_free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

ln_wait_port() {
	"$PY" - "$1" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 10
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
EOF
}

ln_bg() {
	"$@" &
	LN_PIDS="$LN_PIDS $!"
}

# A make variable from the build tree's Makefile ("NAME = value").
ln_make_var() {
	sed -n "s/^$1 = //p" "$SLIPWAY_BUILDDIR/Makefile" | head -n 1
}

ln_build_driver() {
	cc=$(ln_make_var CC)
	san_c=$(ln_make_var SAN_CFLAGS)
	san_l=$(ln_make_var SAN_LDFLAGS)
	libs=$(ln_make_var LIBS)
	# shellcheck disable=SC2046,SC2086
	${cc:-cc} -O1 -g $san_c -I"$SLIPWAY_BUILDDIR" -I"$SLIPWAY_SRCDIR/src" \
		-o "$T/ngx-driver" "$SLIPWAY_SRCDIR/tests/e2e/ngx-driver.c" \
		"$SLIPWAY_BUILDDIR/libslipway.a" $san_l \
		$(pkg-config --libs fcgi json-c sqlite3 libcurl libarchive libcrypt yaml-0.1) \
		$libs 2>"$T/driver-build.log"
}

ln_setup() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/slipway-routes.XXXXXX")
	if ln_have "$NGINX"; then NGINX=$(command -v "$NGINX"); else NGINX=/usr/sbin/nginx; fi
	D=$T/var
	mkdir -p "$D/run" "$D/logs" "$D/nginx/tmp/body" "$D/nginx/tmp/proxy" \
		"$D/nginx/tmp/fastcgi" "$D/nginx/tmp/uwsgi" "$D/nginx/tmp/scgi" \
		"$T/www"
	APPS_PORT=$(ln_free_port)
	CONTROL_PORT=$(ln_free_port)
	user=""
	[ "$(id -u)" -eq 0 ] && user="user root;"
	sed -e "s|@DATA_DIR@|$D|g" -e "s|@WWW_DIR@|$T/www|g" \
		-e "s|@BIND@|127.0.0.1|g" -e "s|@CONTROL_PORT@|$CONTROL_PORT|g" \
		-e "s|@APPS_PORT@|$APPS_PORT|g" -e "s|@MAX_BODY@|${MAX_UPLOAD:-100m}|g" \
		-e "s|@NGINX_MIME@|/etc/nginx/mime.types|g" \
		-e "s|@NGINX_FASTCGI_PARAMS@|/etc/nginx/fastcgi_params|g" \
		-e "s|@USER_DIRECTIVE@|$user|g" \
		"$SLIPWAY_SRCDIR/nginx/nginx.conf.in" >"$D/nginx/nginx.conf"
	SLIPWAY_DATA_DIR=$D
	SLIPWAY_BIND=127.0.0.1
	SLIPWAY_APPS_PORT=$APPS_PORT
	SLIPWAY_CONTROL_PORT=$CONTROL_PORT
	SLIPWAY_MAX_UPLOAD=${MAX_UPLOAD:-100m}
	SLIPWAY_NGINX=$NGINX
	export SLIPWAY_DATA_DIR SLIPWAY_BIND SLIPWAY_APPS_PORT SLIPWAY_CONTROL_PORT \
		SLIPWAY_MAX_UPLOAD SLIPWAY_NGINX
	unset SLIPWAY_NGINX_CONF SLIPWAY_NGINX_PID SLIPWAY_APPS_INCLUDE
	# the driver forks; ASan's leak check at each child's exit is noise
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
	export ASAN_OPTIONS
	ln_build_driver
}

ln_start_nginx() {
	"$NGINX" -c "$D/nginx/nginx.conf" 2>>"$D/logs/nginx-stderr.log" &
	LN_NGINX_PID=$!
	ln_wait_port "$APPS_PORT" && ln_wait_port "$CONTROL_PORT" || return 1
	# the pid file is written before the ports open, check anyway
	i=0
	while [ ! -s "$D/run/nginx.pid" ] && [ $i -lt 100 ]; do
		sleep 0.05; i=$((i + 1))
	done
	[ -s "$D/run/nginx.pid" ]
}

ln_cleanup() {
	for p in $LN_PIDS; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$LN_NGINX_PID" ]; then
		kill -QUIT "$LN_NGINX_PID" 2>/dev/null
		i=0
		while kill -0 "$LN_NGINX_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$LN_NGINX_PID" 2>/dev/null
	fi
	for p in $LN_PIDS; do
		wait "$p" 2>/dev/null
	done
	[ -n "${LN_KEEP:-}" ] && { echo "# kept $T" >&2; return; }
	[ -n "${T:-}" ] && rm -rf "$T"
}
