#!/usr/bin/env bash
# Regenerates assets/sample.fcv: the synthetic scene (30 frames, 20 cameras, 64 px) encoded with
# the 'sample' preset: 2 GoFs of 15 frames, 4 levels of detail x 4 rate tracks.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${FIELDCAST_SAMPLE_WORK:-out/sample-clip}
mkdir -p "$work"
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824
[ -f "$work/ds/transforms.json" ] || \
    .venv/bin/fieldcast synth "$work/ds" --frames 30 --views 20 --test-views 4 --res 64 --seed 0 --fps 15
.venv/bin/fieldcast encode "$work/ds" -o assets/sample.fcv --preset sample --tracks 4 --gof 15 \
    --work-dir "$work/encode"
.venv/bin/fieldcast info assets/sample.fcv
