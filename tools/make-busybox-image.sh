#!/bin/sh
# make-busybox-image.sh [TAG]: the local base image of the built-in
# static-site template (templates/static-site), without a registry:
# FROM scratch with this machine's static busybox as /bin/busybox and its
# applets linked into /bin, tagged TAG (default slipway/busybox:latest) and
# labelled slipway.base=1.  Idempotent: does nothing when TAG exists with
# that label (SLIPWAY_REBUILD_BASE=1 forces a rebuild).  Needs a static
# busybox (Debian: busybox-static); BUSYBOX=/path picks another.
set -eu
TAG=${1:-slipway/busybox:latest}
DOCKER=${DOCKER:-docker}

if [ "${SLIPWAY_REBUILD_BASE:-0}" != 1 ] &&
    [ "$($DOCKER image inspect -f '{{index .Config.Labels "slipway.base"}}' "$TAG" 2>/dev/null)" = 1 ]; then
	exit 0
fi

static_busybox() {	# prints the first static busybox found
	for b in ${BUSYBOX:-} /bin/busybox /usr/bin/busybox $(command -v busybox 2>/dev/null); do
		[ -x "$b" ] || continue
		# A static binary has no program interpreter (PT_INTERP).
		if command -v file >/dev/null 2>&1; then
			file -L "$b" | grep -q 'statically linked' && { echo "$b"; return 0; }
		elif ! grep -q 'ld-linux' "$b"; then
			echo "$b"; return 0
		fi
	done
	return 1
}
BB=$(static_busybox) || {
	echo "make-busybox-image: no static busybox found (install busybox-static or set BUSYBOX)" >&2
	exit 1
}

CTX=$(mktemp -d /tmp/slipway-busybox.XXXXXX)
trap 'rm -rf "$CTX"' EXIT INT TERM
cp "$BB" "$CTX/busybox"
cat >"$CTX/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "-m", "1777", "/tmp"]
LABEL slipway.base=1
ENV PATH=/bin
CMD ["/bin/sh"]
DOCKERFILE
if ! out=$($DOCKER build -q -t "$TAG" "$CTX" 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi
echo "make-busybox-image: $TAG"
