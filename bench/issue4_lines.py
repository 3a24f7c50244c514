"""Issue 4's RD lines for one evaluation: the joint file (`full`) against `--no-joint-rate`
(docs/RESULTS.md, "Issue 4's lines"). Reads the evaluation's scored points (test views) and the
joint clip itself.

    PYTHONPATH=. python bench/issue4_lines.py EVAL_DIR [NO_JOINT_EVAL_DIR]

EVAL_DIR/work/full must hold `clip.fcv` and `points/`; the no-joint variant is read from
NO_JOINT_EVAL_DIR/work/no_joint_rate (default: EVAL_DIR's). Prints, with the issue's target:
(a) the equal-PSNR byte ratio per track (bench/joint_ratio.py's interpolation); the largest over
the smallest track at full LOD; the largest track's full LOD over its level 1; PSNR by level in
the largest track (evaluation points) and in every track (the clip's own operating points); PSNR
by track at full LOD; coded / ideal bytes and the rate estimate / real bytes (`bench codec`).
"""

from __future__ import annotations

import glob
import json
import os
import sys

from joint_ratio import full_points, reference_bytes  # this folder, first on sys.path

from codec.container.reader import FcvFile, read_source
from codec.encode.analysis import analyze


def _points(variant_dir: str) -> dict[tuple[int, int], tuple[float, float]]:
    out = {}
    for f in glob.glob(os.path.join(variant_dir, "points", "*.json")):
        d = json.load(open(f))
        out[(d["track"], d["level"])] = (d["bytes_per_frame"] / 1000, d["psnr_test"])
    return out


def _rises(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def main(eval_dir: str, no_joint_dir: str | None = None) -> None:
    full_dir = os.path.join(eval_dir, "work", "full")
    joint = _points(full_dir)
    ref = full_points(os.path.join(no_joint_dir or eval_dir, "work", "no_joint_rate"))
    f = FcvFile(read_source(os.path.join(full_dir, "clip.fcv")))
    h = f.header
    top = h.levels
    ratios = []
    for r in range(1, h.tracks + 1):
        kb, p = joint[(r, top)]
        at, inside = reference_bytes(ref, p)
        ratios.append(kb / at)
        print(f"(a) track {r}: {kb:.1f} KB @ {p:.2f} dB, no-joint {at:.1f} KB, ratio "
              f"{kb / at:.3f}{'' if inside else ' (outside the no-joint range)'}")
    print(f"(a) worst ratio {max(ratios):.3f} (target <= 0.60)")
    fulls = [joint[(r, top)] for r in range(1, h.tracks + 1)]
    print(f"largest / smallest track, full LOD: {fulls[-1][0] / fulls[0][0]:.2f}x (target >= 4)")
    ops = {(p["track"], p["level"]): p for p in f.operating_points()}
    if (h.tracks, 1) not in joint:  # scored without LOD points: the clip's own byte counts
        top_bytes = ops[(h.tracks - 1, top)]["bytes_per_frame"]
        span = top_bytes / ops[(h.tracks - 1, 1)]["bytes_per_frame"]
        print(f"largest track, full LOD / level 1 (clip's points): {span:.2f}x (target >= 4)")
    else:
        span = fulls[-1][0] / joint[(h.tracks, 1)][0]
        by_level = [joint[(h.tracks, lv)][1] for lv in range(1, top + 1)]
        print(f"largest track, full LOD / level 1: {span:.2f}x (target >= 4)")
        print(f"largest track PSNR by level (evaluation): "
              f"{' / '.join(f'{p:.2f}' for p in by_level)} rises: {_rises(by_level)}")
    for r in range(h.tracks):
        levels = [ops[(r, lv)]["psnr"] for lv in range(1, top + 1)]
        print(f"track {r + 1} PSNR by level (clip's points): "
              f"{' / '.join(f'{p:.2f}' for p in levels)} rises: {_rises(levels)}")
    by_track = [p for _, p in fulls]
    print(f"PSNR by track at full LOD: {' / '.join(f'{p:.2f}' for p in by_track)} "
          f"rises: {_rises(by_track)}")
    stats = analyze(f)
    est = stats.get("rate_estimate_over_real") or []
    print(f"coded / ideal: {stats['coded_over_ideal']:.4f} (target <= 1.02 + 4 B/chunk); "
          f"rate estimate / real: {' / '.join(f'{e:.3f}' for e in est)} (target within 15 %)")


if __name__ == "__main__":
    main(*sys.argv[1:])
