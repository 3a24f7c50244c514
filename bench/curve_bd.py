"""BD-rate of the full-LOD curve of evaluation variants against an anchor variant (docs/RATE.md,
session 10: how a training default moves the whole curve, not one track).

    python bench/curve_bd.py ANCHOR_DIR TEST_DIR [TEST_DIR ...]

Each argument is an evaluation variant directory (`EVAL_DIR/work/full`, with points/*.json).
Prints each curve's full-LOD points (KB/frame @ dB, per-frame PSNRs) and each test's BD-rate
against the anchor (`codec.eval.bjontegaard.bd_rate`, the one `fieldcast eval` reports). Run
from the repository with PYTHONPATH=. and the venv's python.
"""

from __future__ import annotations

import glob
import json
import os
import sys

from codec.eval.bjontegaard import CurveError, bd_rate


def full_curve(src: str) -> list[tuple[int, float, float, list[float]]]:
    """(track, bytes/frame, PSNR, per-frame PSNRs) of the full-LOD points, sorted by track."""
    pts = []
    for path in glob.glob(os.path.join(src, "points", "*.json")):
        with open(path) as f:
            d = json.load(f)
        if d["full_lod"]:
            pts.append((d["track"], d["bytes_per_frame"], d["psnr_test"], d["psnr_per_frame"]))
    if not pts:
        raise SystemExit(f"{src}: no full-LOD points (expected EVAL_DIR/work/VARIANT)")
    return sorted(pts)


def describe(src: str) -> str:
    return " | ".join(f"{b / 1000:.1f}@{p:.2f} ({'/'.join(f'{x:.2f}' for x in per)})"
                      for _, b, p, per in full_curve(src))


def main(anchor: str, tests: list[str]) -> None:
    a = full_curve(anchor)
    print(f"anchor {anchor}: {describe(anchor)}")
    for src in tests:
        t = full_curve(src)
        try:
            bd = f"{bd_rate([p[1] for p in a], [p[2] for p in a], [p[1] for p in t], [p[2] for p in t]):+.1f} %"
        except CurveError as exc:
            bd = f"no BD-rate ({exc})"
        print(f"{src}: {describe(src)}  BD-rate {bd}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
