#!/bin/sh
# bench/routes.sh: cost of applying a route change (issue 3).
#
# For 10, 100 and 1000 apps, then 1000 apps each with a Bearer value and
# an allow list (all the same list: one geo block; then all different: 1000
# geo blocks, the worst case), adds one new app and measures
#   sync     ngxconf_sync in process: render + nginx -t + rename + SIGHUP
#   serving  from starting the change (driver exec) until the new route
#            answers 200 through nginx (polled every 2 ms)
# ROUNDS times each (default 5); prints the median and the worst.
# Goal: serving < 500 ms at 1000 routes.
#
#   SLIPWAY_BUILDDIR=<build dir> sh bench/routes.sh
# Build without --enable-asan for meaningful figures.
set -u
SELF_DIR=$(cd "$(dirname "$0")" && pwd)
: "${SLIPWAY_SRCDIR:=$(cd "$SELF_DIR/.." && pwd)}"
. "$SLIPWAY_SRCDIR/tests/e2e/lib-nginx.sh"
ROUNDS=${ROUNDS:-5}

reason=$(ln_skip_reason)
[ -z "$reason" ] && ! ln_have busybox && reason="busybox not found"
if [ -n "$reason" ]; then
	echo "bench/routes.sh: skipped: $reason" >&2
	exit 0
fi
trap ln_cleanup EXIT
trap 'exit 1' INT TERM HUP
ln_setup || exit 1
[ -x "$T/ngx-driver" ] || { cat "$T/driver-build.log"; exit 1; }
DRV=$T/ngx-driver
grep -q -- '-fsanitize' "$SLIPWAY_BUILDDIR/Makefile" 2>/dev/null &&
	grep -q '^SAN_CFLAGS = -f' "$SLIPWAY_BUILDDIR/Makefile" &&
	echo "note: $SLIPWAY_BUILDDIR is a sanitizer build: figures are pessimistic" >&2

P_HTTPD=$(ln_free_port)
mkdir -p "$T/www1"
echo ok >"$T/www1/index.html"
ln_bg busybox httpd -f -p "127.0.0.1:$P_HTTPD" -h "$T/www1"
ln_wait_port "$P_HTTPD" || exit 1

"$DRV" init && "$DRV" sync >/dev/null || exit 1
ln_start_nginx || { cat "$D/logs/nginx-stderr.log"; exit 1; }

cat >"$T/measure.py" <<'EOF'
import http.client, re, statistics, subprocess, sys, time
drv, port, backend, prefix, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
sync_ms, serve_ms = [], []
def status(path):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse(); r.read(); c.close()
        return r.status
    except OSError:
        return 0
for i in range(rounds):
    app = "%s%07d" % (prefix, i)
    subprocess.run([drv, "add", app, app, backend, "", ""], check=True)
    t0 = time.perf_counter()
    out = subprocess.run([drv, "sync"], check=True, capture_output=True, text=True).stdout
    while status("/apps/%s/" % app) != 200:
        if time.perf_counter() - t0 > 10:
            sys.exit("route %s never served" % app)
        time.sleep(0.002)
    serve_ms.append((time.perf_counter() - t0) * 1000)
    sync_ms.append(float(re.search(r"ms=([0-9.]+)", out).group(1)))
    time.sleep(0.3)   # let old workers go before the next round
print("%.0f %.0f %.0f %.0f" % (statistics.median(sync_ms), max(sync_ms),
                               statistics.median(serve_ms), max(serve_ms)))
EOF

printf '%-8s %-11s %18s %22s\n' routes "allow+auth" "sync ms (med/max)" "serving ms (med/max)"
total=0
run() {	# run TARGET_ROUTES RESTRICTED PREFIX
	target=$1
	if [ "$target" -gt "$total" ]; then
		if [ "$2" = same-list ]; then
			"$DRV" bulk $((target - total)) 20000 "$total" \
				"10.0.0.0/8, 192.168.0.1, ::1, 2001:db8::/32" "Bearer bench-token" || exit 1
		elif [ "$2" = distinct ]; then
			"$DRV" bulk $((target - total)) 20000 "$total" \
				distinct "Bearer bench-token" || exit 1
		else
			"$DRV" bulk $((target - total)) 20000 "$total" || exit 1
		fi
		total=$target
		"$DRV" sync >/dev/null || exit 1
		sleep 0.5
	fi
	set -- "$1" "$2" $("$PY" "$T/measure.py" "$DRV" "$APPS_PORT" "$P_HTTPD" "$3" "$ROUNDS")
	printf '%-8s %-11s %8s / %-7s %10s / %-9s\n' "$1" "$2" "$3" "$4" "$5" "$6"
}
run 10 no n10xx
run 100 no n100x
run 1000 no n1000
# the same 1000 again, now each with an allow list and a Bearer value
for kind in same-list distinct; do
	total=0
	rm -f "$D/slipway.db" "$D/slipway.db-wal" "$D/slipway.db-shm"
	"$DRV" init || exit 1
	run 1000 $kind "$(printf '%.1s' $kind)1000"
done
