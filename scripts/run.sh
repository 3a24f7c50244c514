#!/usr/bin/env bash
# The main job: the FieldCast player on the bundled sample clip (assets/sample.fcv).
# With a display it opens the window. Without one (a headless server) it plays the clip on a
# virtual screen for a few seconds and saves a screenshot, so the job still shows its result.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} LP_NUM_THREADS=${LP_NUM_THREADS:-2}
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    exec .venv/bin/fieldcast view "$@"
fi
mkdir -p out
shot=out/player.png
echo "run: no display; playing assets/sample.fcv on a virtual screen for 12 s"
QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX" \
    .venv/bin/fieldcast view --quit-after 12 --screenshot "$shot" "$@"
echo "run: screenshot of the player: $shot"
