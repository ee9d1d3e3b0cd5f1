#!/bin/sh
# Bootstrap a fresh clone: install missing Debian packages, autoreconf, configure.
# Idempotent; run by the top-level GNUmakefile when no Makefile exists yet.
set -eu
cd "$(dirname "$0")/.."

PKGS="autoconf automake libtool pkg-config make gcc libfcgi-dev libjson-c-dev
libsqlite3-dev libcurl4-openssl-dev libarchive-dev libcrypt-dev libyaml-dev
nginx spawn-fcgi docker.io busybox-static docker-compose libarchive-tools curl
sqlite3 python3-requests python3-websockets chromium chromium-driver wrk"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bootstrap: missing packages:$missing (run as root, or install them)" >&2
		exit 1
	fi
	echo "bootstrap: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure ${CONFIGURE_FLAGS:-}
