#!/bin/bash
# e2e: the container API for the Synapse SDK AgentClient (issue 6).  Starts
# the real stack, then runs tests/e2e/containers_sdk.py, a client speaking
# the SDK's wire protocol with python3-requests under /usr/bin/python3:
# health, creates (archive as multipart, string release as JSON, the
# PluginRelease form), restart instead of recreate, build polling, get by
# db id / Docker id prefix / app_id with and without the trailing slash,
# lists with filters and full pagination over 250 records, PATCH stop and
# start, delete, the containers/docker/ calls, the error cases, 20
# concurrent creates of one (release, model), and every app being a
# container.  Plugins run on a Python base image made here without a
# registry (tests/data/apps/make-python-base.sh); their Gradio interface is
# a standard-library stand-in (tests/data/containers/echo-plugin).  TAP.
. "$SLIPWAY_SRCDIR/tests/e2e/lib.sh"
. "$SLIPWAY_SRCDIR/tests/e2e/agent-lib.sh"
trap e2e_finish EXIT

docker_ensure || { echo "Bail out! no Docker daemon"; exit 1; }
if ! /usr/bin/python3 -c 'import requests' 2>/dev/null; then
	echo "1..0 # SKIP python3-requests not importable by /usr/bin/python3"
	exit 0
fi
BASE=slipway-test/python:3.11
docker image inspect "$BASE" >/dev/null 2>&1 && BASE_WAS_THERE=1 || BASE_WAS_THERE=0
if ! sh "$SLIPWAY_SRCDIR/tests/data/apps/make-python-base.sh" "$BASE" >/dev/null; then
	echo "1..0 # SKIP cannot make the Python base image"
	exit 0
fi
export SLIPWAY_GRADIO_BASE_IMAGE=$BASE SLIPWAY_GRADIO_PACKAGE= SLIPWAY_START_TIMEOUT=20
stack_start || exit 1
agent_setup || exit 1
t0=$(date +%s)

# The client's lines become numbered TAP here.
while IFS= read -r line; do
	case $line in
	"ok - "*) ok 0 "${line#ok - }" ;;
	"not ok - "*) ok 1 "${line#not ok - }" ;;
	*) echo "$line" ;;
	esac
done < <(API=$API ADMIN_PASSWORD=$ADMIN_PASSWORD WORK=$T TEMPLATES=$T/var/templates \
    FIXTURE=$SLIPWAY_SRCDIR/tests/data/containers \
    /usr/bin/python3 "$SLIPWAY_SRCDIR/tests/e2e/containers_sdk.py" 2>&1)

# After the client deleted everything: the agent removed it all.
for _ in $(seq 1 300); do
	[ "$(DB 'SELECT count(*) FROM apps')" = 0 ] && break
	sleep 0.2
done
is "$(DB 'SELECT count(*) FROM apps')" 0 "every apps row is gone after the deletes"
is "$(docker ps -aq --filter "label=slipway.instance=$INST" | wc -l)" 0 "no container left"
is "$(ls "$T/var/uploads" | wc -l)" 0 "no app sources left"
is "$(ls "$T/var/plugins")" "sdk-echo@1.0.0" "the uploaded release is stored once (templates are not copied there)"
ok $(! ls -a "$T/var/plugins" | grep -q '^\.\(tmp\|old\)-'; echo $?) "no temporary release folder left"
diag "containers.sh took $(( $(date +%s) - t0 )) s after the stack came up"
[ "$BASE_WAS_THERE" = 1 ] || docker rmi "$BASE" >/dev/null 2>&1
