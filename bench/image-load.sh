#!/bin/bash
# Benchmark: a 1 GiB `docker save` tarball uploaded and loaded (issue 8).
# The image (FROM scratch, one layer with busybox and a 1 GiB random file,
# labelled slipway.test=1) is written by bench/make-image-tar.py.  Measures
# upload -> app running (POST /upload, the agent streaming the tar to
# POST /images/load, tagging, starting), the load job's own time, and the
# agent's peak RSS: the VmHWM of its job child processes, sampled every
# 50 ms, and of the agent itself.  Baseline in the same run: `docker load`
# of the same file (the image removed before each side).  Goal: RSS under
# 32 MB.  Prints table rows.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
#   IMAGE_MIB (default 1024)
# Build without --enable-asan for meaningful figures.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/stress-lib.sh"
. "$SLIPWAY_SRCDIR/bench/lib.sh"
MIB=${IMAGE_MIB:-1024}
REPRO="bash bench/image-load.sh"
docker_ensure >/dev/null ||	# stopped by bench_cleanup if started here
	{ echo "bench/image-load.sh: skipped: no Docker daemon" >&2; exit 0; }
bench_san_note

export SLIPWAY_START_TIMEOUT=60
stack_start >/dev/null || exit 1
agent_setup >/dev/null || exit 1
TAG=slipway-bench/big:$INST
SAMPLER=
bench_cleanup() {
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	docker rmi -f "$TAG" >/dev/null 2>&1
	stack_stop
	agent_docker_cleanup
	docker_stop_owned	# a daemon this run started
	[ -n "$T" ] && rm -rf "$T"
}
trap bench_cleanup EXIT
TOK=$(login admin "$ADMIN_PASSWORD")

/usr/bin/python3 "$SRC/bench/make-image-tar.py" "$T/image.tar" "$MIB" "$TAG" "$(busybox_path)" \
    slipway.test=1 "slipway.instance=$INST" || exit 1
SIZE=$(stat -c %s "$T/image.tar")

# baseline: docker load, then the image goes again
sync
t0=$(date +%s%N)
docker load -q -i "$T/image.tar" >/dev/null || exit 1
base=$(ms_since "$t0")
docker rmi -f "$TAG" >/dev/null || exit 1

# slipway: the agent's processes sampled while it works
AP=$(agent_pid)
echo 5 >"/proc/$AP/clear_refs"
(
	max=0
	while :; do
		for p in $(pgrep -P "$AP"); do
			r=$(hwm_kb "$p"); [ "$r" -gt "$max" ] && { max=$r; echo "$max" >"$T/job.hwm"; }
		done
		sleep 0.05
	done
) &
SAMPLER=$!
sync
t0=$(date +%s%N)
st=$(upload "$TOK" "$T/image.tar" bigimage)
up=$(ms_since "$t0")
[ "$st" = 202 ] || { echo "upload answered $st: $(body)" >&2; exit 1; }
A=$(jget 'd["app_id"]')
st=$(app_wait "$A" 'running|error' 300)
total=$(ms_since "$t0")
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null; SAMPLER=
[ "$st" = running ] || { echo "the app ended $st: $(app_col "$A" status_detail)" >&2; exit 1; }
[ "$(wait_200 "$APPS/apps/$A/" 10)" = 200 ] || echo "note: $A not served" >&2
job=$(sed -n "s/.*job [0-9]* done in \([0-9]*\) ms.*/\1/p" "$T/var/logs/slipway.log" | tail -n 1)
job_rss=$(cat "$T/job.hwm" 2>/dev/null || echo 0)
agent_rss=$(hwm_kb "$AP")
printf '| %d MiB docker save tar: upload → app running (upload %.1f s; load + tag + start job %.1f s) | %.1f s | docker load: %.1f s | %.2fx | %s |\n' \
    "$MIB" "$(echo "$up / 1000" | bc -l)" "$(echo "${job:-0} / 1000" | bc -l)" \
    "$(echo "$total / 1000" | bc -l)" "$(echo "$base / 1000" | bc -l)" \
    "$(echo "$total / $base" | bc -l)" "$REPRO"
printf '| the same load: agent peak RSS (job process VmHWM; agent itself) | %.1f MB (agent %.1f MB) | – | (goal < 32 MB) | %s |\n' \
    "$(echo "$job_rss / 1024" | bc -l)" "$(echo "$agent_rss / 1024" | bc -l)" "$REPRO"
api DELETE "/apps/$A" -H "Authorization: Bearer $TOK" >/dev/null
app_gone "$A" 60
