"""`fieldcast bench player`: sustained playback fps while the quality changes every second.

Opens the real player window (needs an X server: run under `xvfb-run -a` with
QT_QPA_PLATFORM=xcb when headless), sizes the viewport to each requested square, plays the clip
looping at the target fps and moves the quality slider once a second, hopping across tracks and
levels. Reports frames presented per second, dropped frames, decode/render times and the worst
catch-up time (request to first frame shown at the new point) and the process's peak RSS.
``--long-frames N`` adds a long loop: RSS after warm-up vs at the end, and the GL object count.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

from codec.errors import FieldCastError

NAME = "player"
HELP = "player: sustained playback fps at 256² and 512² with quality changes, worst catch-up"
SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample.fcv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", nargs="?", type=Path, default=SAMPLE, help=f"clip (default {SAMPLE})")
    parser.add_argument("--sizes", default="256,512", help="viewport sizes (default 256,512)")
    parser.add_argument("--seconds", type=float, default=10.0, help="playback per size (default 10)")
    parser.add_argument("--fps", type=float, default=30.0, help="target playback fps (default 30)")
    parser.add_argument("--change-every", type=float, default=1.0, help="seconds between changes")
    parser.add_argument("--long-frames", type=int, default=0,
                        help="also loop until this many frames were shown (memory / GL objects)")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pump(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def _session(app, win, size: int, seconds: float, fps: float, every: float) -> dict[str, Any]:
    win.viewport.setFixedSize(size, size)
    win.viewport.set_scale_mode(1.0)  # every pixel: the figure is for the stated resolution
    win.seek(0)
    win.timeline.fps_box.setValue(fps)
    win.play()
    _pump(app, 2.0)  # warm-up: shaders, first decodes
    n = len(win.model)
    order = [(i * 5 + 1) % n for i in range(1000)]
    engine = win.engine
    engine.worst_catchup_s = 0.0
    catchups: list[float] = []
    shown0, dropped0 = win.clock.shown, win.clock.dropped
    render_ms: list[float] = []
    decode_ms: list[float] = []
    win.viewport.rendered.connect(render_ms.append)
    start = time.perf_counter()
    changes = 0
    while time.perf_counter() - start < seconds:
        win.select_point(order[changes])
        changes += 1
        tick_end = time.perf_counter() + every
        while time.perf_counter() < tick_end:
            app.processEvents()
            time.sleep(0.001)
        if engine.last_catchup_s is not None:
            catchups.append(engine.last_catchup_s)
        decode_ms.append(engine.decode_ms)
    elapsed = time.perf_counter() - start
    win.viewport.rendered.disconnect(render_ms.append)
    shown = win.clock.shown - shown0
    pending = engine.switching
    return {
        "viewport": f"{size}x{size}",
        "target_fps": fps,
        "sustained_fps": shown / elapsed,
        "frames_shown": shown,
        "frames_dropped": win.clock.dropped - dropped0,
        "quality_changes": changes,
        "worst_catchup_ms": engine.worst_catchup_s * 1000.0,
        "switch_pending_at_end": pending,
        "render_ms_mean": sum(render_ms) / max(1, len(render_ms)),
        "decode_ms_mean": sum(decode_ms) / max(1, len(decode_ms)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.clip.is_file():
        raise FieldCastError(f"no such clip: {args.clip} (pass one, or build assets/sample.fcv)")
    if not os.environ.get("DISPLAY"):
        raise FieldCastError("the player benchmark needs an X server: run it under `xvfb-run -a`")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    fmt = QSurfaceFormat()
    fmt.setVersion(4, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    QSurfaceFormat.setDefaultFormat(fmt)
    app = QApplication.instance() or QApplication(["fieldcast-bench"])
    import tempfile

    from app.player.window import PlayerWindow

    with tempfile.TemporaryDirectory() as tmp:
        win = PlayerWindow(settings_file=Path(tmp) / "bench.ini")
        win.resize(1100, 800)
        win.show()
        if not win.open_path(args.clip):
            raise FieldCastError(f"cannot open {args.clip}: {win.last_error}")
        _pump(app, 0.5)
        info = win.source.info
        result: dict[str, Any] = {
            "clip": str(args.clip),
            "frames": info.frames,
            "operating_points": len(info.points),
            "cpu_threads": os.cpu_count(),
            "sessions": [],
        }
        for size in (int(s) for s in args.sizes.split(",")):
            result["sessions"].append(
                _session(app, win, size, args.seconds, args.fps, args.change_every)
            )
        result["worst_catchup_ms"] = max(s["worst_catchup_ms"] for s in result["sessions"])
        if args.long_frames:
            target = args.long_frames
            n = len(win.model)
            for j in range(n):  # warm-up: every point once (every LOD's textures and programs)
                win.select_point(j)
                _pump(app, max(0.5, args.change_every))
            shown0 = win.clock.shown
            rss0, gl0 = _rss_mb(), win.viewport.gl_objects()
            i = 0
            t0 = time.perf_counter()
            last_progress, last_shown = t0, win.clock.shown
            stalled = False
            while win.clock.shown - shown0 < target:
                win.select_point((i * 5 + 1) % n)
                i += 1
                _pump(app, args.change_every)
                if win.clock.shown != last_shown:
                    last_progress, last_shown = time.perf_counter(), win.clock.shown
                elif time.perf_counter() - last_progress > 30.0:
                    stalled = True  # report it rather than loop forever
                    break
            result["long"] = {
                "frames_shown": win.clock.shown - shown0,
                "seconds": time.perf_counter() - t0,
                "quality_changes": i,
                "rss_after_warmup_mb": rss0,
                "rss_end_mb": _rss_mb(),
                "rss_growth_pct": 100.0 * (_rss_mb() - rss0) / rss0,
                "gl_objects_after_warmup": gl0,
                "gl_objects_end": win.viewport.gl_objects(),
                "stalled": stalled,
            }
        win.close()
    # The process's high-water mark: everything above, warm-up and GL resources included.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result
