"""Issue 4 line (a): bytes of the jointly trained file over the `--no-joint-rate` file at equal
full-LOD PSNR (docs/RATE.md). For each joint full-LOD point, the no-joint curve is interpolated
log-linearly in bytes over PSNR at that point's PSNR (points more than 0.2 dB outside the
no-joint range are reported as outside).

    python3 bench/joint_ratio.py EVAL_DIR/work/full EVAL_DIR/work/no_joint_rate

Each argument is an evaluation variant directory (with points/*.json) or a
`fieldcast info --json` file.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np


def full_points(src: str) -> list[tuple[int, float, float, list[float]]]:
    """(track, KB/frame, PSNR, per-frame PSNRs) of the full-LOD points, sorted by track (an
    info JSON has no per-frame PSNRs: an empty list)."""
    if os.path.isdir(src):
        pts = []
        for f in glob.glob(os.path.join(src, "points", "*.json")):
            d = json.load(open(f))
            if d["full_lod"]:
                pts.append((d["track"], d["bytes_per_frame"] / 1000, d["psnr_test"],
                            d.get("psnr_per_frame", [])))
        return sorted(pts)
    d = json.load(open(src))
    top = d["levels"]
    return sorted((p["track"], p["bytes_per_frame"] / 1000, p["psnr"], [])
                  for p in d["operating_points"] if p["level"] == top)


def main(joint: str, no_joint: str) -> None:
    ref = full_points(no_joint)
    log_kb = np.log([p[1] for p in ref])
    psnr = np.array([p[2] for p in ref])
    for track, kb, p, _ in full_points(joint):
        if p < psnr.min() - 0.2 or p > psnr.max() + 0.2:
            print(f"track {track}: {kb:.1f} KB @ {p:.2f} dB outside the no-joint range")
            continue
        at = float(np.exp(np.interp(min(max(p, psnr.min()), psnr.max()), psnr, log_kb)))
        print(f"track {track}: {kb:.1f} KB @ {p:.2f} dB, no-joint {at:.1f} KB, ratio {kb / at:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
