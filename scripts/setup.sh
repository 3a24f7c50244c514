#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh machine: system packages for the GUI
# tests, a virtual environment in .venv, torch first, then FieldCast itself.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FIELDCAST_VENV:-.venv}
PY=${PYTHON:-python3}

need_apt=()
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
for lib in libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 \
           libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libxcb-cursor0 \
           libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri libfontconfig1 libdbus-1-3; do
    dpkg -s "$lib" >/dev/null 2>&1 || need_apt+=("$lib")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing system packages: ${need_apt[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "setup: missing system packages (run as root or install them): ${need_apt[*]}" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating virtual environment $VENV"
    "$PY" -m venv "$VENV"
fi
stamp="$VENV/.fieldcast-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch first: a CPU build lies on local disk here. CUDA users: set
    # FIELDCAST_TORCH to e.g. "torch==2.13.0 --index-url <your CUDA wheel index>".
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q ${FIELDCAST_TORCH:-torch==2.13.0}
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    touch "$stamp"
fi
