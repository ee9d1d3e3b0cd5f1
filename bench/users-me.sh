#!/bin/bash
# Benchmark: GET /users/me through nginx -> FastCGI -> SQLite, beside the
# nginx -> FastCGI "hello" ceiling (bench/fcgi-hello, same worker count,
# same nginx settings) measured in the same run.  Prints one table row.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR: set by `make bench`
#   BENCH_SECONDS (default 10), BENCH_CONNS (default 32)
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/bench/lib.sh"
cleanup() {
	hello_stop
	stack_stop
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
bench_san_note

stack_start >/dev/null || exit 1
curl -s -o /dev/null -X POST -d 'username=bench&password=bench-pass-1' "$API/register"
TOK=$(login bench bench-pass-1)
[ -n "$TOK" ] || { echo "login failed" >&2; exit 1; }
# The ceiling: the same nginx build and FastCGI path, a handler that does nothing.
hello_start || { echo "hello ceiling did not start" >&2; exit 1; }

# warm up both
wrk -t1 -c4 -d1s "$HELLO_URL" >/dev/null 2>&1
wrk -t1 -c4 -d1s -H "Authorization: Bearer $TOK" "$API/users/me" >/dev/null 2>&1
read -r h_rps h_p50 h_p99 h_bad h_err < <(wrk_rps "$HELLO_URL")
read -r u_rps u_p50 u_p99 u_bad u_err < <(wrk_rps -H "Authorization: Bearer $TOK" "$API/users/me")
ratio=$(awk -v a="$u_rps" -v b="$h_rps" 'BEGIN { printf "%.0f%%", 100 * a / b }')
printf '| GET /users/me (token lookup in SQLite) | %s req/s (p50 %s, p99 %s, non-2xx %s) | hello %s req/s (p50 %s) | %s | make bench |\n' \
    "$u_rps" "$u_p50" "$u_p99" "$u_bad" "$h_rps" "$h_p50" "$ratio"
