"""`fieldcast render CLIP --frames a:b --camera C|orbit -o DIR`: PNGs from the GLSL renderer."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from codec.errors import FieldCastError

NAME = "render"
HELP = "render frames of a .fcv clip to PNG files with the real-time GLSL renderer"
DESCRIPTION = (
    "Decode frames a..b-1 of the clip at (track r, level l) and render each one to\n"
    "DIR/frame_00000.png ... with the GLSL renderer on a headless EGL context.\n"
    "--camera is a capture-camera index (see `fieldcast info`), a JSON file with one camera\n"
    "(a transforms.json frame entry), or `orbit`: a camera circling the clip's box once over\n"
    "the frames. Image size: the camera's own unless --res WxH (orbit default 512x512).\n"
    "--scale < 1 renders fewer rays and stretches them (the player's quality governor).\n"
    "PNGs are RGB over the clip's background; --alpha writes RGBA (alpha = accumulated opacity)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="the .fcv file")
    parser.add_argument("--frames", default=":", help="a:b (b excluded), a, a: or :b (default all)")
    parser.add_argument("--camera", default="0", help="capture-camera index, camera JSON or orbit")
    parser.add_argument("--track", type=int, default=None, help="rate track, 0-based (default: highest)")
    parser.add_argument("--level", type=int, default=None, help="level of detail, 1..L (default: L)")
    parser.add_argument("--res", default=None, help="output size WxH (default: the camera's)")
    parser.add_argument("--scale", type=float, default=1.0, help="render scale in (0, 1]")
    parser.add_argument("--elevation", type=float, default=15.0, help="orbit elevation, degrees")
    parser.add_argument("--alpha", action="store_true", help="write RGBA PNGs")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output directory")


def parse_frames(spec: str, count: int) -> range:
    try:
        if ":" in spec:
            a, b = spec.split(":", 1)
            first = int(a) if a.strip() else 0
            end = int(b) if b.strip() else count
        else:
            first = int(spec)
            end = first + 1
    except ValueError:
        raise FieldCastError(f"--frames must look like a:b, a, a: or :b, got {spec!r}") from None
    if not 0 <= first < end <= count:
        raise FieldCastError(f"--frames {spec} is outside the clip's 0..{count - 1}")
    return range(first, end)


def parse_res(spec: str | None) -> tuple[int, int] | None:
    if spec is None:
        return None
    try:
        w, h = (int(v) for v in spec.lower().split("x"))
    except ValueError:
        raise FieldCastError(f"--res must be WxH, got {spec!r}") from None
    if not (1 <= w <= 8192 and 1 <= h <= 8192):
        raise FieldCastError(f"--res {spec} is out of range (1..8192 per side)")
    return w, h


def orbit_cameras(aabb, frames: range, size: tuple[int, int], elevation: float) -> list:
    from codec.data.cameras import orbit_camera

    lo, hi = np.asarray(aabb[0], float), np.asarray(aabb[1], float)
    radius = float(np.linalg.norm(hi - lo)) * 0.9
    n = max(len(frames), 1)
    return [
        orbit_camera(360.0 * i / n, elevation, radius, target=tuple((lo + hi) / 2),
                     fov_deg=40.0, width=size[0], height=size[1], name=f"orbit {i}")
        for i in range(len(frames))
    ]


def run(args: argparse.Namespace) -> int:
    import imageio.v3 as iio
    from tqdm import tqdm

    from app.commands.decode import load_camera
    from app.gl.headless import HeadlessRenderer
    from codec.decode import Decoder

    if not 0 < args.scale <= 1:
        raise FieldCastError("--scale must be in (0, 1]")
    res = parse_res(args.res)
    dec = Decoder(args.clip, "cpu")
    h = dec.header
    track = h.tracks - 1 if args.track is None else args.track
    level = h.levels if args.level is None else args.level
    if not 0 <= track < h.tracks:
        raise FieldCastError(f"--track must be 0..{h.tracks - 1}")
    if not 1 <= level <= h.levels:
        raise FieldCastError(f"--level must be 1..{h.levels}")
    frames = parse_frames(args.frames, h.frames)
    if args.camera == "orbit":
        cams = orbit_cameras(h.aabb, frames, res or (512, 512), args.elevation)
    else:
        cam = load_camera(args.camera, h.cameras)
        cams = [cam] * len(frames)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FieldCastError(f"cannot create {args.out}: {exc.strerror}") from None
    renderer = HeadlessRenderer()
    try:
        for t, cam in zip(tqdm(frames, desc="render", unit="frame"), cams):
            grids = dec.frame(t, track, level)
            w, hgt = res or (cam.width, cam.height)
            rgba = renderer.render(grids, cam, h.background, w, hgt, key=(t, track, grids.lod),
                                   scale=args.scale)
            img = rgba if args.alpha else rgba[..., :3]
            iio.imwrite(args.out / f"frame_{t:05d}.png",
                        (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    finally:
        renderer.release()
    print(f"wrote {len(frames)} PNG(s) to {args.out}")
    return 0
