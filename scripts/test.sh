#!/usr/bin/env bash
# Runs the whole suite: threads pinned to 2, GUI tests on a virtual X screen.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 LP_NUM_THREADS=2
# Idle OpenMP workers sleep instead of spinning: llvmpipe and ffmpeg threads share the 2 cores.
export OMP_WAIT_POLICY=PASSIVE
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-1073741824}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-1073741824}
export QT_QPA_PLATFORM=xcb
export PYTHONDONTWRITEBYTECODE=1
run=(.venv/bin/python -m pytest "$@")
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null 2>&1; then
    exec xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX" "${run[@]}"
fi
exec "${run[@]}"
