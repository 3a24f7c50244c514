"""`fieldcast view [FILE]`: the desktop player."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codec.errors import FieldCastError

NAME = "view"
HELP = "play a .fcv clip in the desktop player (default: the sample clip in assets/)"
DESCRIPTION = """\
Open the FieldCast player on FILE (or on assets/sample.fcv when no file is given).

Mouse: left-drag orbits, right/middle-drag pans, the wheel zooms.
Keys:  Space play/pause · ←/→ step · Home/End · [ / ] quality down/up · R reset view · F fullscreen.
The quality slider and the rate-distortion plot switch operating points (rate track x level of
detail) during playback; "Auto" picks the best point that keeps the playback fps.
"""

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample.fcv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, help=f"clip to open (default: {SAMPLE})")
    parser.add_argument("--paused", action="store_true", help="open paused on the first frame")
    parser.add_argument("--track", type=int, help="start at this rate track (as in `fieldcast info`)")
    parser.add_argument("--level", type=int, help="start at this level of detail (1..L)")
    parser.add_argument("--size", default="1280x800", help="initial window size WxH (default 1280x800)")
    parser.add_argument(
        "--screenshot", type=Path,
        help="save a screenshot of the window to this PNG after --quit-after seconds, then quit",
    )
    parser.add_argument(
        "--quit-after", type=float, default=None,
        help="close the player after this many seconds (smoke tests, screenshots)",
    )


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise FieldCastError(f"--size must look like 1280x800, got {text!r}") from None
    if w < 200 or h < 150:
        raise FieldCastError("--size must be at least 200x150")
    return w, h


def run(args: argparse.Namespace) -> int:
    path: Path = args.file or SAMPLE
    if not path.is_file():
        if args.file is None:
            raise FieldCastError(
                f"the sample clip {SAMPLE} is missing; regenerate it with `make sample-clip` "
                "or pass a .fcv file: fieldcast view CLIP.fcv"
            )
        raise FieldCastError(f"no such file: {path}")
    width, height = _size(args.size)
    # Open the clip before any window exists: a bad file is one clear line, not a GUI.
    from app.player.fcv_source import open_fcv

    source = open_fcv(path)
    if args.track is not None or args.level is not None:
        keys = {p.key for p in source.info.points}
        track = args.track if args.track is not None else max(k[0] for k in keys)
        level = args.level if args.level is not None else source.info.levels
        if (track, level) not in keys:
            raise FieldCastError(f"the clip has no operating point track {track}, level {level}")

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    fmt = QSurfaceFormat()
    fmt.setVersion(4, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    QSurfaceFormat.setDefaultFormat(fmt)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FieldCast player")
    app.setOrganizationName("FieldCast")

    from app.player.window import PlayerWindow

    win = PlayerWindow()
    if not win.restore_layout():
        win.resize(width, height)
    win.load_source(source, play=not args.paused)
    win._remember_recent(path)
    if args.track is not None or args.level is not None:
        win.select_point(win.model.index_of(track, level))
    win.show()
    if args.quit_after is not None:
        def finish() -> None:
            if args.screenshot is not None:
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                win.grab().save(str(args.screenshot))
                print(f"screenshot: {args.screenshot}")
            print(win.status_text())
            win.close()

        QTimer.singleShot(int(args.quit_after * 1000), finish)
    return int(app.exec())
