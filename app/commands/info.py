"""`fieldcast info CLIP`: header and operating points of a .fcv file."""

from __future__ import annotations

import argparse
import json

from codec.container.reader import FcvFile, read_source
from codec.decode.info import clip_info

NAME = "info"
HELP = "show a .fcv clip's header and its operating points (rate track x level of detail)"
DESCRIPTION = (
    "Print the clip's header (frames, fps, GoF length, levels, tracks, grid shapes, cameras)\n"
    "and every operating point (track, level) with its bytes/frame, PSNR and SSIM on the\n"
    "test views. --json prints the stable JSON document described in docs/FORMAT.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="the .fcv file")
    parser.add_argument("--json", action="store_true", help="print JSON (schema in docs/FORMAT.md)")


def _fmt(v: object, spec: str) -> str:
    return format(v, spec) if isinstance(v, (int, float)) else "-"


def _scored_on(info: dict) -> str:
    """Which views the encoder scored: `fieldcast eval` scores its clips on fewer views than
    its own evaluation does, so the two PSNRs of one clip can differ."""
    encoder = info.get("encoder")
    views = encoder.get("score_views") if isinstance(encoder, dict) else None
    if isinstance(views, int) and not isinstance(views, bool):
        first = "the first test view" if views == 1 else f"the first {views} test views"
        return f"mean over {first} of every frame"
    return "mean over the test views of every frame"


def run(args: argparse.Namespace) -> int:
    data = read_source(args.clip)
    info = clip_info(FcvFile(data), len(data))
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"{args.clip}: .fcv {info['version']}, {info['file_size']} bytes"
          + (f"  (TRUNCATED: {info['bytes_present']} bytes present)" if info["truncated"] else ""))
    print(f"  frames {info['frames']} at {info['fps']:g} fps, GoF {info['gof']} ({info['gofs']} GoFs)")
    print(f"  levels {info['levels']}: density {info['density_res']}, planes {info['plane_res']}"
          f" x {info['channels']} channels; MLP hidden {info['hidden']}")
    print(f"  tracks {info['tracks']}, cameras {len(info['cameras'])}, box {info['aabb']},"
          f" background {info['background']}")
    print(f"  operating points (PSNR, SSIM: {_scored_on(info)}):")
    print("  track level  KB/frame   kbit/s    PSNR    SSIM")
    for p in info["operating_points"]:
        kb = p["bytes_per_frame"] / 1024 if isinstance(p["bytes_per_frame"], (int, float)) else None
        print(f"  {p['track']:>5} {p['level']:>5} {_fmt(kb, '9.2f')} {_fmt(p['kbit_per_second'], '8.1f')}"
              f" {_fmt(p['psnr'], '7.2f')} {_fmt(p['ssim'], '7.4f')}")
    return 0
