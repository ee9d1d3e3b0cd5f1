#!/bin/bash
# make bench: every benchmark, each printing table rows (what | ours |
# baseline in the same run | ratio | command).  Bounded: ~10 minutes.
set -u
cd "$(dirname "$0")"
# One Docker daemon for the whole run, started here if none answers and
# stopped at the end: a benchmark that started and stopped its own left
# the next one's containers starting slowly (restart: 1.07 s against
# 0.35 s on a daemon that stays up).
ping_docker() {
	curl -s -m 2 --unix-socket /var/run/docker.sock http://docker/_ping 2>/dev/null | grep -q OK
}
OWN_DOCKERD=
if ! ping_docker && command -v dockerd >/dev/null; then
	dockerd >>"/tmp/slipway-bench-dockerd.$$.log" 2>&1 &
	OWN_DOCKERD=$!
	for _ in $(seq 1 200); do ping_docker && break; sleep 0.1; done
fi
trap '[ -n "$OWN_DOCKERD" ] && { kill "$OWN_DOCKERD"; wait "$OWN_DOCKERD"; }' EXIT
echo "| what | slipway | baseline (same run) | ratio | reproduce |"
echo "|---|---|---|---|---|"
for b in users-me.sh load.sh routes.sh template-deploy.sh deploy.sh upload.sh image-load.sh gradio-deps.sh; do
	[ -f "$b" ] || continue
	# The large-file benchmarks leave gigabytes for the disk to write
	# back: let that finish before the next one starts timing.
	sync
	timeout 300 bash "./$b" || echo "| $b | failed | | | bash bench/$b |"
done
