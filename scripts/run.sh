#!/usr/bin/env bash
# The main job. Until the player lands: generate the synthetic scene and show where the preview is.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} LP_NUM_THREADS=${LP_NUM_THREADS:-2}
out=${FIELDCAST_OUT:-out/synth}
.venv/bin/fieldcast synth "$out" --frames 10 --views 24 --test-views 4 --res 96 --seed 0
echo "run: dataset in $out, contact sheet: $out/contact_sheet.png"
