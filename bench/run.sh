#!/bin/bash
# make bench: every benchmark, each printing table rows (what | ours |
# baseline in the same run | ratio | command).  Bounded: ~10 minutes.
set -u
cd "$(dirname "$0")"
echo "| what | slipway | baseline (same run) | ratio | reproduce |"
echo "|---|---|---|---|---|"
for b in users-me.sh load.sh routes.sh template-deploy.sh deploy.sh upload.sh image-load.sh gradio-deps.sh; do
	[ -f "$b" ] || continue
	timeout 300 bash "./$b" || echo "| $b | failed | | | bash bench/$b |"
done
