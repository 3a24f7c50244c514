"""`fieldcast dataset-info DIR`: what a dataset holds (frames, views, size, box, split)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codec.data.dataset import load_dataset

NAME = "dataset-info"
HELP = "validate a dataset and print its frames, views, resolution, box, split, background, fps"
DESCRIPTION = """\
Load a dataset (a directory holding transforms.json, or the file itself), check everything that
can be checked without decoding pixels (JSON, camera matrices, that every image exists, image
sizes, that every frame has every camera) and print a summary. A broken dataset gives one line
naming the file and the field, and exit status 2.

examples:
  fieldcast dataset-info out/synth
  fieldcast dataset-info ../shared/bench/figure128 --json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="DIR", help="dataset directory (or its transforms.json)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--downscale", type=int, default=1, help="report sizes after this integer downscale")


def run(args: argparse.Namespace) -> int:
    ds = load_dataset(args.path, downscale=args.downscale)
    info = ds.summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    w, h = info["resolution"]
    lo, hi = info["aabb"]
    times = info["times"]
    rows = [
        ("dataset", info["root"]),
        ("frames", f"{info['frames']} (ids {_ranges(info['frame_ids'])}; t = {times[0]:g} .. {times[-1]:g} s)"),
        ("fps", f"{info['fps']:g}"),
        ("views", str(info["views"])),
        ("resolution", f"{w} x {h}" + (f" (downscale {info['downscale']})" if info["downscale"] > 1 else "")),
        ("box", f"[{', '.join(f'{v:g}' for v in lo)}] .. [{', '.join(f'{v:g}' for v in hi)}]"),
        ("background", ", ".join(f"{v:g}" for v in info["background"])),
        ("train", f"{len(info['train_cameras'])}: {' '.join(info['train_cameras'])}"),
        ("test", f"{len(info['test_cameras'])}: {' '.join(info['test_cameras']) or '-'}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _ranges(ids: list[int]) -> str:
    """[0,1,2,3,7] -> '0-3, 7'."""
    out, start = [], None
    for i, v in enumerate(ids):
        if start is None:
            start = v
        if i + 1 == len(ids) or ids[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)
