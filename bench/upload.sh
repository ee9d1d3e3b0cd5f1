#!/bin/bash
# Benchmark: POST /upload of a 1 GiB tar through nginx (issue 4): it is
# extracted into var/uploads/<id> as it arrives (src/upload_rx.c); its
# time (to the 202) and the FastCGI worker's peak RSS (VmHWM of the worker
# children of the slipway-fcgi master), against `cp` + `bsdtar -x` of the
# same file in the same run (ROUNDS each, default 5, interleaved; best
# time).  The agent is kept away from Docker so no build follows.
# Goals: RSS under 32 MB, time within 1.5x.  Prints table rows.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
#   UPLOAD_MIB (default 1024), ROUNDS (default 5)
# Build without --enable-asan for meaningful figures.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/bench/lib.sh"
MIB=${UPLOAD_MIB:-1024}
ROUNDS=${ROUNDS:-5}
REPRO="bash bench/upload.sh"
command -v bsdtar >/dev/null || { echo "bench/upload.sh: bsdtar is not installed" >&2; exit 1; }
bench_san_note

# No Docker for this stack: the upload is measured alone.
export SLIPWAY_NO_DOCKER=1 SLIPWAY_DOCKER_SOCKET=/nonexistent/slipway-bench-docker.sock
export SLIPWAY_WORKERS=2
stack_start >/dev/null || exit 1
bench_cleanup() {
	stack_stop
	docker_stop_owned	# a daemon this run started
	[ -n "$T" ] && rm -rf "$T"
}
trap bench_cleanup EXIT
TOK=$(login admin "$ADMIN_PASSWORD")
MASTER=$(sed -n 's/.*FastCGI workers started (master pid \([0-9]*\).*/\1/p' "$T/up.log" | tail -n 1)

mkdir -p "$T/src"
printf 'FROM scratch\nCOPY big.bin /big.bin\n' >"$T/src/Dockerfile"
head -c "${MIB}M" /dev/urandom >"$T/src/big.bin"
tar -cf "$T/big.tar" -C "$T/src" Dockerfile big.bin || exit 1
rm -rf "$T/src"
SIZE=$(stat -c %s "$T/big.tar")

base_ms=() up_ms=() base_rss=0 up_rss=0
for i in $(seq 1 "$ROUNDS"); do
	# baseline: receive (a copy) and unpack
	rm -rf "$T/b"; mkdir -p "$T/b/x"
	sync	# each side starts with no dirty pages to write back
	t0=$(date +%s%N)
	cp "$T/big.tar" "$T/b/big.tar" &&
	    /usr/bin/time -f %M -o "$T/b.rss" bsdtar -xf "$T/b/big.tar" -C "$T/b/x" || exit 1
	base_ms+=("$(ms_since "$t0")")
	r=$(cat "$T/b.rss"); [ "$r" -gt "$base_rss" ] && base_rss=$r
	rm -rf "$T/b"
	# slipway: through nginx to a worker, streamed to disk and unpacked;
	# the workers' peak RSS is reset first (clear_refs 5: VmHWM = VmRSS)
	for w in $(pgrep -P "$MASTER"); do echo 5 >"/proc/$w/clear_refs"; done
	sync
	t0=$(date +%s%N)
	st=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOK" \
	    -F "file=@$T/big.tar;type=application/x-tar" -F "name=big-$i" "$API/upload")
	ms=$(ms_since "$t0")
	[ "$st" = 202 ] || { echo "upload answered $st: $(body)" >&2; exit 1; }
	up_ms+=("$ms")
	for w in $(pgrep -P "$MASTER"); do
		r=$(hwm_kb "$w"); [ "$r" -gt "$up_rss" ] && up_rss=$r
	done
	id=$(jget 'd["app_id"]')
	[ "$(du -sm "$T/var/uploads/$id" | cut -f1)" -ge "$MIB" ] ||
	    { echo "the upload did not unpack" >&2; exit 1; }
	rm -rf "$T/var/uploads/$id"
done
best() { printf '%s\n' "$@" | sort -n | head -n 1; }
b=$(best "${base_ms[@]}"); u=$(best "${up_ms[@]}")
printf '| POST /upload of a %d MiB tar through nginx: time to the 202 (extracted as it arrives) | %.2f s (%.0f MB/s) | cp + bsdtar -x: %.2f s | %.2fx (goal ≤ 1.5x) | %s |\n' \
    "$MIB" "$(echo "$u / 1000" | bc -l)" "$(echo "$SIZE / 1000 / $u" | bc -l)" \
    "$(echo "$b / 1000" | bc -l)" "$(echo "$u / $b" | bc -l)" "$REPRO"
printf '| the same upload: FastCGI worker peak RSS (VmHWM) | %.1f MB | bsdtar -x: %.1f MB | %.2fx (goal < 32 MB) | %s |\n' \
    "$(echo "$up_rss / 1024" | bc -l)" "$(echo "$base_rss / 1024" | bc -l)" \
    "$(echo "$up_rss / $base_rss" | bc -l)" "$REPRO"
