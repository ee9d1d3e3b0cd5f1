#!/bin/bash
# make bench: every benchmark, each printing table rows (what | ours |
# baseline in the same run | ratio | command).  Bounded: ~10 minutes.
set -u
cd "$(dirname "$0")"
# One Docker daemon for the whole run, started here if none answers and
# stopped at the end: a benchmark that started and stopped its own left
# the next one's containers starting slowly (restart: 1.07 s against
# 0.35 s on a daemon that stays up).
. ../tests/e2e/lib.sh	# docker_ensure, docker_stop_owned
docker_ensure >/dev/null
trap docker_stop_owned EXIT
echo "| what | slipway | baseline (same run) | ratio | reproduce |"
echo "|---|---|---|---|---|"
for b in users-me.sh load.sh routes.sh template-deploy.sh deploy.sh upload.sh image-load.sh gradio-deps.sh; do
	[ -f "$b" ] || continue
	# The large-file benchmarks leave gigabytes for the disk to write
	# back: let that finish before the next one starts timing.
	sync
	timeout 300 bash "./$b" || echo "| $b | failed | | | bash bench/$b |"
done
