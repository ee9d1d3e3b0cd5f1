#!/bin/bash
# Log compiler for the unit tests: runs one test binary.  The ones that talk
# to a real Docker daemon (t_docker) get one: a daemon already answering is
# shared; otherwise one is started for the test and stopped after it (as
# on a fresh CI machine, where nothing runs yet).
set -u
case $1 in
*/t_docker)
	SLIPWAY_SRCDIR=${SLIPWAY_SRCDIR:?}
	diag() { echo "# $*"; }
	# only the Docker helpers of the e2e library
	eval "$(sed -n '/^DOCKERD_PID=$/,/^free_port() {/p' "$SLIPWAY_SRCDIR/tests/e2e/lib.sh" | sed '$d')"
	docker_ensure || echo "# no Docker daemon could be started"
	"$@"
	rc=$?
	docker_stop_owned
	exit $rc
	;;
esac
exec "$@"
