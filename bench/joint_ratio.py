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


def reference_bytes(ref: list[tuple[int, float, float, list[float]]], psnr: float) -> tuple[float, bool]:
    """No-joint KB/frame at `psnr` (log-linear in bytes over PSNR, clamped to the curve's ends)
    and whether `psnr` lies within 0.2 dB of the curve's range."""
    log_kb = np.log([p[1] for p in ref])
    ref_psnr = np.array([p[2] for p in ref])
    order = np.argsort(ref_psnr)
    log_kb, ref_psnr = log_kb[order], ref_psnr[order]
    inside = bool(ref_psnr.min() - 0.2 <= psnr <= ref_psnr.max() + 0.2)
    at = float(np.exp(np.interp(min(max(psnr, ref_psnr.min()), ref_psnr.max()), ref_psnr, log_kb)))
    return at, inside


def main(joint: str, no_joint: str) -> None:
    ref = full_points(no_joint)
    for track, kb, p, _ in full_points(joint):
        at, inside = reference_bytes(ref, p)
        if not inside:
            print(f"track {track}: {kb:.1f} KB @ {p:.2f} dB outside the no-joint range")
            continue
        print(f"track {track}: {kb:.1f} KB @ {p:.2f} dB, no-joint {at:.1f} KB, ratio {kb / at:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
