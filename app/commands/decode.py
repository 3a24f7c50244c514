"""`fieldcast decode CLIP --frame t --track r --level l --camera C --png out.png`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from codec.decode import Decoder
from codec.errors import FieldCastError
from codec.render.torch_renderer import render_frame

NAME = "decode"
HELP = "decode one frame of a .fcv clip at an operating point and render one view to PNG"
DESCRIPTION = (
    "Decode frame t at (track r, level l) and render it with the reference torch renderer\n"
    "(docs/RENDERING.md), composited over the clip's background colour.\n"
    "--camera is a capture-camera index (see `fieldcast info`) or a JSON file holding one\n"
    "camera as a transforms.json frame entry: {fl_x, fl_y, cx, cy, w, h, transform_matrix}.\n"
    "A truncated file decodes at the highest level it holds (a note says so)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="the .fcv file")
    parser.add_argument("--frame", type=int, default=0, help="frame index, 0-based (default 0)")
    parser.add_argument("--track", type=int, default=None, help="rate track, 0-based (default: highest)")
    parser.add_argument("--level", type=int, default=None, help="level of detail, 1..L (default: L)")
    parser.add_argument("--camera", default="0", help="capture-camera index or camera JSON file")
    parser.add_argument("--png", type=Path, required=True, help="output PNG path")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")


def load_camera(spec: str, cameras: list[dict]):
    from codec.data.cameras import Camera, CameraError

    if spec.lstrip("-").isdigit():
        i = int(spec)
        if not 0 <= i < len(cameras):
            raise FieldCastError(f"camera index {i} out of range (clip has {len(cameras)})")
        entry = cameras[i]
    else:
        path = Path(spec)
        try:
            entry = json.loads(path.read_text())
        except OSError as exc:
            raise FieldCastError(f"cannot read camera file {spec}: {exc.strerror}") from None
        except ValueError as exc:
            raise FieldCastError(f"camera file {spec} is not JSON: {exc}") from None
        if isinstance(entry, dict) and isinstance(entry.get("frames"), list) and entry["frames"]:
            defaults = {k: v for k, v in entry.items() if k != "frames"}
            entry = {**defaults, **entry["frames"][0]}
        if not isinstance(entry, dict):
            raise FieldCastError(f"camera file {spec} must hold one JSON object")
    try:
        return Camera.from_json_entry(entry)
    except CameraError as exc:
        raise FieldCastError(f"bad camera: {exc}") from None


def run(args: argparse.Namespace) -> int:
    import imageio.v3 as iio

    dec = Decoder(args.clip, args.device)
    h = dec.header
    track = h.tracks - 1 if args.track is None else args.track
    level = h.levels if args.level is None else args.level
    cam = load_camera(args.camera, h.cameras)
    grids = dec.frame(args.frame, track, level)
    if grids.lod < level:
        print(f"note: file truncated, frame {args.frame} decoded at level {grids.lod}")
    origins, dirs = cam.rays(grids.device)
    bg = torch.tensor(h.background, dtype=torch.float32)
    out = render_frame(grids, origins, dirs, bg)
    img = out.rgb.reshape(cam.height, cam.width, 3).clamp(0, 1).cpu().numpy()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(args.png, (img * 255.0 + 0.5).astype(np.uint8))
    print(f"wrote {args.png} ({cam.width}x{cam.height}, frame {args.frame}, track {track},"
          f" level {grids.lod})")
    return 0
