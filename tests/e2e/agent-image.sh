#!/bin/bash
# e2e: `docker save` tarballs through the agent (issue 8): the legacy
# layout, the layout newer Docker writes (oci-layout + index.json + blobs,
# made here from the legacy one), an untagged save, and a corrupt tarball.
# The image is built here FROM scratch with busybox.  Real stack; TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
# A short build limit: the image kind builds in well under a second.
export SLIPWAY_START_TIMEOUT=20 SLIPWAY_BUILD_TIMEOUT=3
stack_start || exit 1
agent_setup || exit 1
DATA=$T/var
FIX=$SLIPWAY_SRCDIR/tests/data/apps/image-busybox

# The image to save, labelled as a test object; removed with the stack.
mkdir -p "$T/imgsrc"
cp "$FIX/Dockerfile" "$FIX/index.html" "$T/imgsrc/"
cp /bin/busybox "$T/imgsrc/busybox"
TAG=slipway-test/saved:$INST
IMG=$(docker build -q --label slipway.test=1 --label "slipway.instance=$INST" -t "$TAG" "$T/imgsrc" 2>/dev/null)
like "$IMG" '^sha256:' "test image built"
mkdir -p "$T/legacy" "$T/oci" "$T/untagged" "$T/corrupt"
docker save -o "$T/legacy/image.tar" "$TAG"
ok $? "legacy docker save"
/usr/bin/python3 "$FIX/to-oci.py" "$T/legacy/image.tar" "$T/oci/image.tar"
ok $? "OCI layout made from it"
like "$(tar -tf "$T/oci/image.tar" | sort | tr '\n' ' ')" 'index.json .*oci-layout' "OCI tar has index.json and oci-layout"
docker save -o "$T/untagged/image.tar" "${IMG#sha256:}"
ok $? "untagged docker save (by id)"
head -c 20000 /dev/urandom >"$T/corrupt/image.tar"

for kind in legacy oci untagged; do
	X=$(app_create image "$T/$kind")
	st=$(app_wait "$X" 'running|error' 60)
	is "$st" running "$kind tarball: running ($(app_col "$X" status_detail | head -c 200))"
	is "$(app_col "$X" container_port)" 8080 "$kind: runs on its single EXPOSE"
	is "$(curl -s -m 3 "http://127.0.0.1:$(app_col "$X" port)/")" "from a docker save tarball" "$kind: answers"
	is "$(wait_200 "$APPS/apps/$X/" 5)" 200 "$kind: served through the apps site"
	like "$(docker image inspect -f '{{index .Config.Labels "slipway.app"}}' "slipway/$X:latest")" "^$X\$" "$kind: tagged slipway/<id> with our labels"
	ok $(! docker image inspect "$TAG" >/dev/null 2>&1; echo $?) "$kind: the tarball's own name is taken off again"
	eval "APP_$kind=$X"
done

X=$(app_create image "$T/corrupt")
st=$(app_wait "$X" 'running|error' 30)
is "$st" error "corrupt tarball -> error"
like "$(app_col "$X" status_detail)" 'image load failed' "reason: $(app_col "$X" status_detail | head -c 120)"
APP_corrupt=$X

# A build longer than SLIPWAY_BUILD_TIMEOUT ends in error.
mkdir -p "$T/slow"
cp -a "$SLIPWAY_SRCDIR/tests/data/apps/busybox-slow/." "$T/slow/"
cp /bin/busybox "$T/slow/busybox"
head -c 16 /dev/urandom | od -An -tx1 >"$T/slow/nonce"	# no cached layer
X=$(app_create docker "$T/slow")
st=$(app_wait "$X" 'running|error' 30)
is "$st" error "a build over the limit -> error"
like "$(app_col "$X" status_detail)" 'build took longer than 3 s' "reason: $(app_col "$X" status_detail)"
APP_slow=$X

for kind in legacy oci untagged corrupt slow; do
	eval "X=\$APP_$kind"
	app_delete "$X"
	app_gone "$X" 30
	ok $? "$kind: deleted"
	is "$(docker ps -aq --filter "label=slipway.app=$X" | wc -l)$(docker images -q --filter "label=slipway.app=$X" | wc -l)" 00 "$kind: nothing labelled left"
done
# The loaded layers were our test image: gone with the last app using them
# only if nothing else holds them; the test image itself goes at cleanup.
docker rmi -f "$IMG" >/dev/null 2>&1
