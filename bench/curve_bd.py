"""BD-rate of the full-LOD curve of evaluation variants against an anchor variant (docs/RATE.md,
session 10: how a training default moves the whole curve, not one track).

    python bench/curve_bd.py ANCHOR_DIR TEST_DIR [TEST_DIR ...]

Each argument is an evaluation variant directory (`EVAL_DIR/work/full`, with points/*.json) or
a `fieldcast info --json` file, read as `bench/joint_ratio.py` reads them. Prints each curve's
full-LOD points (KB/frame @ dB, per-frame PSNRs) and each test's BD-rate against the anchor
(`codec.eval.bjontegaard.bd_rate`, the one `fieldcast eval` reports). Run from the repository
with PYTHONPATH=. and the venv's python.
"""

from __future__ import annotations

import sys

from joint_ratio import full_points

from codec.eval.bjontegaard import CurveError, bd_rate


def describe(points: list[tuple[int, float, float, list[float]]]) -> str:
    return " | ".join(f"{kb:.1f}@{p:.2f} ({'/'.join(f'{x:.2f}' for x in per)})"
                      for _, kb, p, per in points)


def main(anchor: str, tests: list[str]) -> None:
    a = full_points(anchor)
    if not a:
        raise SystemExit(f"{anchor}: no full-LOD points")
    print(f"anchor {anchor}: {describe(a)}")
    for src in tests:
        t = full_points(src)
        try:
            bd = f"{bd_rate([p[1] for p in a], [p[2] for p in a], [p[1] for p in t], [p[2] for p in t]):+.1f} %"
        except CurveError as exc:
            bd = f"no BD-rate ({exc})"
        print(f"{src}: {describe(t)}  BD-rate {bd}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
