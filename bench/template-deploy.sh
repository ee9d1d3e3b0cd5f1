#!/bin/bash
# Benchmark: one-click deploy of a cached template (issue 7).  A busybox
# static-site template (FROM scratch + busybox-static, tests/data/templates)
# is uploaded and deployed once, so its image layers are in Docker's cache;
# then ROUNDS times (default 5): POST /deploy_template/{id} and poll the new
# app through nginx ($APPS/apps/<id>/, every 10 ms) until the first 200.
# Prints one table row with the median and the worst; goal: under 1.5 s.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
#   ROUNDS (default 5)
# Build without --enable-asan for meaningful figures.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
ROUNDS=${ROUNDS:-5}
GOAL_MS=1500

docker_ensure >/dev/null ||	# stopped by bench_cleanup if started here
	{ echo "bench/template-deploy.sh: skipped: no Docker daemon" >&2; exit 0; }
BUSYBOX=/bin/busybox
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || BUSYBOX=$(command -v busybox)
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "bench/template-deploy.sh: skipped: no static busybox" >&2; exit 0; }

stack_start >/dev/null || exit 1
agent_setup >/dev/null || exit 1
bench_cleanup() {
	stack_stop
	agent_docker_cleanup
	docker_stop_owned	# a daemon this run started
	[ -n "$T" ] && rm -rf "$T"
}
trap bench_cleanup EXIT
grep -q '^SAN_CFLAGS = -f' "$SLIPWAY_BUILDDIR/Makefile" 2>/dev/null &&
	echo "note: $SLIPWAY_BUILDDIR is a sanitizer build: figures are pessimistic" >&2

TOK=$(login admin "$ADMIN_PASSWORD")
S=$T/site
cp -a "$SLIPWAY_SRCDIR/tests/data/templates/busybox-site" "$S"
cp "$BUSYBOX" "$S/busybox"
(cd "$S" && tar -czf "$T/site.tgz" .)
st=$(api POST /templates -H "Authorization: $TOK" -F name=bench-site -F file=@"$T/site.tgz")
[ "$st" = 201 ] || { echo "template upload failed: $st $(body)" >&2; exit 1; }
TID=$(jget 'd["template_id"]')

cat >"$T/measure.py" <<'EOF'
import http.client, json, statistics, sys, time
api_port, apps_port, tok, tid, rounds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])

def request(port, method, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, headers={"Authorization": tok})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body

def deploy_until_200(limit=120.0):
    t0 = time.perf_counter()
    st, body = request(api_port, "POST", "/deploy_template/%s" % tid)
    if st != 202:
        sys.exit("deploy answered %d: %s" % (st, body[:200]))
    app = json.loads(body)["app_id"]
    while time.perf_counter() - t0 < limit:
        try:
            st, _ = request(apps_port, "GET", "/apps/%s/" % app, timeout=2)
            if st == 200:
                return app, time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.01)
    sys.exit("app %s did not answer 200 within %d s" % (app, limit))

# Warm: the first deploy builds the image (layers cached afterwards).
app, warm = deploy_until_200()
request(api_port, "DELETE", "/apps/%s" % app)
times = []
for _ in range(rounds):
    app, t = deploy_until_200()
    times.append(t)
    request(api_port, "DELETE", "/apps/%s" % app)
print("%.0f %.0f %.0f" % (1000 * statistics.median(times), 1000 * max(times), 1000 * warm))
EOF
read -r med worst warm < <(/usr/bin/python3 "$T/measure.py" "$CONTROL_PORT" "$APPS_PORT" "$TOK" "$TID" "$ROUNDS") ||
	{ echo "bench/template-deploy.sh: measurement failed" >&2; exit 1; }
[ -n "${med:-}" ] || exit 1
ratio=$(awk -v a="$med" -v b="$GOAL_MS" 'BEGIN { printf "%.0f%%", 100 * a / b }')
verdict=$([ "$worst" -lt "$GOAL_MS" ] && echo "met" || echo "NOT met")
printf '| deploy of a cached template -> first 200 through nginx (%s rounds) | median %s ms, worst %s ms (first deploy, with its build: %s ms) | goal %s ms (%s) | %s | bash bench/template-deploy.sh |\n' \
    "$ROUNDS" "$med" "$worst" "$warm" "$GOAL_MS" "$verdict" "$ratio"
