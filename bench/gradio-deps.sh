#!/bin/bash
# Benchmark: the dependency layer of gradio apps (issue 5).  A gradio app
# (tests/data/apps/py-echo: standard library only) with a requirements.txt
# new to this run is deployed twice: the first deploy builds the
# dependency layer (slipway/deps:<hash>, `pip install` on the base image
# from tests/data/apps/make-python-base.sh, whose pip is a stand-in: no
# index is reachable), the second finds it and only builds the app layer.
# Measured: upload -> first 200 through nginx, ROUNDS pairs (default 2,
# each with its own requirements); medians.  Prints a table row.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
# Build without --enable-asan for meaningful figures.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
. "$SLIPWAY_SRCDIR/bench/lib.sh"
ROUNDS=${ROUNDS:-2}
REPRO="bash bench/gradio-deps.sh"
docker_ensure >/dev/null ||	# stopped by bench_cleanup if started here
	{ echo "bench/gradio-deps.sh: skipped: no Docker daemon" >&2; exit 0; }
BASE=slipway-test/python:3.11
docker image inspect "$BASE" >/dev/null 2>&1 && BASE_WAS_THERE=1 || BASE_WAS_THERE=0
sh "$SLIPWAY_SRCDIR/tests/data/apps/make-python-base.sh" "$BASE" >/dev/null ||
	{ echo "bench/gradio-deps.sh: skipped: cannot make the Python base image" >&2; exit 0; }
bench_san_note

export SLIPWAY_GRADIO_BASE_IMAGE=$BASE SLIPWAY_GRADIO_PACKAGE= SLIPWAY_START_TIMEOUT=60
stack_start >/dev/null || exit 1
agent_setup >/dev/null || exit 1
bench_cleanup() {
	stack_stop
	agent_docker_cleanup
	[ "$BASE_WAS_THERE" = 0 ] && docker rmi "$BASE" >/dev/null 2>&1
	docker_stop_owned	# a daemon this run started
	[ -n "$T" ] && rm -rf "$T"
}
trap bench_cleanup EXIT
TOK=$(login admin "$ADMIN_PASSWORD")

deploy_ms() {	# ZIP NAME -> ms from the upload to the first 200 through nginx
	local t0 st id
	t0=$(date +%s%N)
	st=$(upload "$TOK" "$1" "$2")
	[ "$st" = 202 ] || { echo "upload answered $st: $(body)" >&2; return 1; }
	id=$(jget 'd["app_id"]')
	until [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$APPS/apps/$id/")" = 200 ]; do
		case $(app_col "$id" status) in error)
			echo "$2 failed: $(app_col "$id" status_detail)" >&2; return 1;;
		esac
		sleep 0.01
	done
	echo "$(ms_since "$t0")"
}
first=() second=()
for i in $(seq 1 "$ROUNDS"); do
	mkdir -p "$T/app$i"
	cp "$SRC/tests/data/apps/py-echo/echo_app.py" "$T/app$i/app.py"
	for n in 1 2 3 4 5; do echo "bench-dep-$INST-$i-$n==1.0"; done >"$T/app$i/requirements.txt"
	zip_dir "$T/app$i" "$T/app$i.zip"
	ms=$(deploy_ms "$T/app$i.zip" "deps-$i-a") || exit 1
	first+=("$ms")
	ms=$(deploy_ms "$T/app$i.zip" "deps-$i-b") || exit 1
	second+=("$ms")
done
reused=$(grep -c 'requirements unchanged: reusing' "$T"/var/logs/*.log 2>/dev/null | awk -F: '{ s += $2 } END { print s + 0 }')
f=$(median "${first[@]}"); s=$(median "${second[@]}")
printf '| gradio app redeployed with unchanged requirements: upload → first 200 (dependency layer reused %d of %d times; median of %d) | %d ms | first deploy (builds the layer): %d ms | %.2fx | %s |\n' \
    "$reused" "$ROUNDS" "$ROUNDS" "$s" "$f" "$(echo "$s / $f" | bc -l)" "$REPRO"
