#!/bin/sh
# make-python-base.sh [TAG]: a Python base image for tests, without a
# registry: a rootfs of this machine's Debian /usr/bin/python3.11, its
# standard library and the shared libraries they load, plus busybox-static
# as /bin/sh, `docker import`ed as TAG (default slipway-test/python:3.11,
# label slipway.test=1).  About 2 s and 60 MB.  Does nothing when TAG
# exists with that label (SLIPWAY_REBUILD_BASE=1 forces).
#
# The image holds a stand-in for pip (no index is reachable here):
# `python -m pip install -r FILE` prints what it would install, records the
# requirements in /usr/lib/slipway-pip-installed.txt and succeeds; any
# requirement named "fail-to-install" makes it fail.  Remove with
#   docker rmi TAG
set -eu
TAG=${1:-slipway-test/python:3.11}
PY=/usr/bin/python3.11
BUSYBOX=/bin/busybox

if [ "${SLIPWAY_REBUILD_BASE:-0}" != 1 ] &&
    [ "$(docker image inspect -f '{{index .Config.Labels "slipway.test"}}' "$TAG" 2>/dev/null)" = 1 ]; then
	exit 0
fi
[ -x "$PY" ] || { echo "make-python-base: $PY not found" >&2; exit 1; }
[ -x "$BUSYBOX" ] || { echo "make-python-base: $BUSYBOX not found" >&2; exit 1; }

R=$(mktemp -d /tmp/slipway-pybase.XXXXXX)
trap 'rm -rf "$R"' EXIT INT TERM

mkdir -p "$R/usr/bin" "$R/usr/lib" "$R/bin" "$R/tmp" "$R/etc" "$R/app" \
    "$R/usr/local/bin" "$R/root"
chmod 1777 "$R/tmp"
cp -a "$PY" "$R/usr/bin/python3.11"
ln -s python3.11 "$R/usr/bin/python3"
ln -s python3.11 "$R/usr/bin/python"
# The standard library without its tests and GUI parts.
tar -C /usr/lib -cf - --exclude='python3.11/test' --exclude='python3.11/idlelib' \
    --exclude='python3.11/tkinter' --exclude='python3.11/turtledemo' \
    --exclude='python3.11/ensurepip' --exclude='python3.11/lib2to3/tests' \
    --exclude='python3.11/config-3.11-x86_64-linux-gnu' \
    --exclude='python3.11/distutils' python3.11 | tar -C "$R/usr/lib" -xf -
# Shared libraries of the interpreter and of its extension modules.
for f in "$PY" /usr/lib/python3.11/lib-dynload/*.so; do
	ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$R$(dirname "$lib")"
	cp -L "$lib" "$R$lib"
done
# busybox as the shell (RUN in shell form, debugging).
cp "$BUSYBOX" "$R/bin/busybox"
for a in sh ls cat env sleep; do ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
# The pip stand-in.
mkdir -p "$R/usr/lib/python3/dist-packages/pip"
: >"$R/usr/lib/python3/dist-packages/pip/__init__.py"
cat >"$R/usr/lib/python3/dist-packages/pip/__main__.py" <<'EOF'
"""Test stand-in for pip: no package index is reachable here."""
import sys

args = sys.argv[1:]
reqs = []
if "-r" in args:
    with open(args[args.index("-r") + 1]) as f:
        reqs = [l.strip() for l in f if l.strip() and not l.startswith("#")]
for r in reqs:
    print("fake pip: installing %s" % r, flush=True)
    if r.startswith("fail-to-install"):
        print("ERROR: No matching distribution found for %s" % r, flush=True)
        sys.exit(1)
with open("/usr/lib/slipway-pip-installed.txt", "a") as f:
    f.write("\n".join(reqs) + "\n")
print("fake pip: done", flush=True)
EOF

tar -C "$R" -cf - . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL slipway.test=1' \
    --change 'WORKDIR /app' \
    --change 'CMD ["python3"]' \
    - "$TAG" >/dev/null
echo "make-python-base: $TAG"
