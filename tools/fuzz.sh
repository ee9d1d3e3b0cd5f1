#!/bin/bash
# make fuzz: build every libFuzzer harness in tests/fuzz against the
# library compiled once with clang (-fsanitize=fuzzer-no-link,address,
# undefined), then run each for FUZZ_SECONDS (default 30) on a scratch copy
# of its seeds.  Fails on the first crash, leak or sanitizer report.
#   SLIPWAY_SRCDIR, SLIPWAY_BUILDDIR (for config.h): set by `make fuzz`
set -eu
SRC=${SLIPWAY_SRCDIR:?}
BLD=${SLIPWAY_BUILDDIR:?}
SECS=${FUZZ_SECONDS:-30}
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not installed" >&2; exit 1; }
OUT=$BLD/tests/fuzz/build
rm -rf "$OUT"; mkdir -p "$OUT/obj"
PKGS="fcgi json-c sqlite3 libcurl libarchive libcrypt yaml-0.1"
CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -DHAVE_CONFIG_H -I$BLD -iquote $SRC/src -iquote $SRC/tests/unit $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -ldl -pthread"

# The library: the sources of libslipway.a (FUZZ_SOURCES from make).
objs=()
for f in ${FUZZ_SOURCES:?}; do
	case $f in *.c) ;; *) continue;; esac
	c=$SRC/$f
	o=$OUT/obj/$(basename "$c" .c).o
	$CC $CFLAGS -c "$c" -o "$o"
	objs+=("$o")
done

python3 "$SRC/tests/data/fuzz/mkseeds.py" "$OUT/seeds" >/dev/null 2>&1 || true
status=0
for h in "$SRC"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$h" .c)
	short=${name#fuzz_}
	$CC -g -O1 -fsanitize=fuzzer,address,undefined -DHAVE_CONFIG_H -I"$BLD" \
	    -iquote "$SRC/src" $(pkg-config --cflags $PKGS) "$h" "${objs[@]}" $LIBS -o "$OUT/$name"
	corpus=$OUT/corpus/$short
	mkdir -p "$corpus"
	[ -d "$SRC/tests/fuzz/corpus/$short" ] && cp -r "$SRC/tests/fuzz/corpus/$short/." "$corpus/"
	[ -d "$OUT/seeds/$short" ] && cp -r "$OUT/seeds/$short/." "$corpus/"
	dict=""
	[ -f "$SRC/tests/data/fuzz/$short.dict" ] && dict="-dict=$SRC/tests/data/fuzz/$short.dict"
	echo "fuzz: $name for ${SECS}s"
	if ! (cd "$OUT" && "./$name" -max_total_time="$SECS" -print_final_stats=0 $dict "$corpus" >"$OUT/$name.log" 2>&1); then
		echo "fuzz: $name FAILED (log: $OUT/$name.log)"; tail -30 "$OUT/$name.log"
		status=1
	fi
done
exit $status
