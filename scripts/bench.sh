#!/usr/bin/env bash
# `make bench`: every benchmark, JSON in bench/results/, one table in bench/RESULTS.md.
# Figures, not pass/fail. Run on an otherwise idle machine: CPU contention distorts every number.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 LP_NUM_THREADS=2
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824
out=bench/results
mkdir -p "$out"
fc=.venv/bin/fieldcast
clip=assets/sample.fcv
xrun=()
[ -z "${DISPLAY:-}" ] && xrun=(xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX")
$fc bench field --json --out "$out/field.json" >/dev/null
$fc bench encode --json --out "$out/encode.json" >/dev/null
$fc bench codec --json --clip "$clip" --out "$out/codec.json" >/dev/null
$fc bench render "$clip" --json --out "$out/render.json" >/dev/null
$fc bench decode "$clip" --json --out "$out/decode.json" >/dev/null
QT_QPA_PLATFORM=xcb "${xrun[@]}" $fc bench player "$clip" --json --out "$out/player.json" >/dev/null
.venv/bin/python bench/summarize.py "$out" > bench/RESULTS.md
cat bench/RESULTS.md
