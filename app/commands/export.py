"""`fieldcast export CLIP --turntable -o OUT`: orbit the camera while the clip plays."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from codec.errors import FieldCastError

NAME = "export"
HELP = "export a turntable video (mp4 H.264/H.265 or GIF) of a clip, optionally side by side"
DESCRIPTION = """\
Render a turntable: the camera circles the scene while the clip plays (looping if it is shorter
than the video), at one operating point or two side by side with their labels.

  fieldcast export clip.fcv --turntable -o out.mp4 --seconds 6 --res 512 --track 2 --level 4
  fieldcast export clip.fcv --turntable -o cmp.mp4 --track 3 --level 4 --compare 0 2
  fieldcast export clip.fcv --turntable -o spin.gif --res 256 --fps 15

The output folder must be writable; that is checked before anything is rendered. The file is
written under a temporary name and renamed when complete (nothing is left behind on cancel).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", type=Path, help="the .fcv clip")
    parser.add_argument("--turntable", action="store_true", required=True,
                        help="orbit the camera while the clip plays (the only export mode)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .mp4 or .gif")
    parser.add_argument("--seconds", type=float, default=6.0, help="video length (default 6)")
    parser.add_argument("--fps", type=float, default=25.0, help="video frame rate (default 25)")
    parser.add_argument("--res", default="512", help="N (square) or WxH per panel (default 512)")
    parser.add_argument("--elevation", type=float, default=20.0, help="camera elevation in degrees")
    parser.add_argument("--radius", type=float, help="camera distance (default: frame the box)")
    parser.add_argument("--turns", type=float, default=1.0, help="full circles over the video")
    parser.add_argument("--fov", type=float, default=40.0, help="vertical field of view, degrees")
    parser.add_argument("--track", type=int, help="rate track as in `fieldcast info` (default: best)")
    parser.add_argument("--level", type=int, help="level of detail 1..L (default: all)")
    parser.add_argument("--compare", type=int, nargs=2, metavar=("TRACK", "LEVEL"),
                        help="a second operating point rendered beside the first, both labelled")
    parser.add_argument("--codec", choices=["h264", "h265", "gif"],
                        help="default: gif for .gif outputs, h264 otherwise")
    parser.add_argument("--crf", type=int, default=18, help="x264/x265 quality (lower = better)")
    parser.add_argument("--progress-lines", action="store_true",
                        help="print 'progress DONE TOTAL' lines instead of a bar (for the player)")


def _resolution(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = (int(v) for v in text.lower().split("x"))
        else:
            w = h = int(text)
    except ValueError:
        raise FieldCastError(f"--res must be N or WxH, got {text!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise FieldCastError("--res must be within 16..4096 pixels per side")
    return w, h


def _terminate(_signum, _frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from app.export.turntable import TurntableSpec, check_output, export_turntable

    if not args.clip.is_file():
        raise FieldCastError(f"no such file: {args.clip}")
    width, height = _resolution(args.res)
    codec = args.codec or ("gif" if args.output.suffix.lower() == ".gif" else "h264")
    if args.seconds <= 0 or args.fps <= 0:
        raise FieldCastError("--seconds and --fps must be positive")
    spec = TurntableSpec(
        output=args.output, seconds=args.seconds, fps=args.fps, width=width, height=height,
        elevation=args.elevation, radius=args.radius, turns=args.turns, fov_deg=args.fov,
        track=args.track, level=args.level, codec=codec,
        compare=tuple(args.compare) if args.compare else None, crf=args.crf,
    )
    check_output(spec.output, spec.codec)  # before opening or rendering anything
    # The player cancels a child export with SIGTERM: clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _terminate)
    if args.progress_lines:
        def progress(done: int, total: int) -> None:
            print(f"progress {done} {total}", flush=True)

        export_turntable(args.clip, spec, progress)
    else:
        from tqdm import tqdm

        with tqdm(total=spec.frame_count(), unit="frame", desc="turntable", file=sys.stderr) as bar:
            export_turntable(args.clip, spec, lambda done, total: bar.update(1))
    print(f"wrote {spec.output} ({spec.frame_count()} frames, "
          f"{width * (2 if spec.compare else 1)}x{height}, {codec})")
    return 0
