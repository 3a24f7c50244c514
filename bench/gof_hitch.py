"""The player's render time at a GoF boundary, with and without warming the next GoF's program.

Opens CLIP in the real player window (Qt under X, the viewport's own GL context) with a fresh
Mesa shader cache, shows frame 0 and the last frame of GoF 0, then the first frame of GoF 1, and
reports the viewport's render ms (upload + draw, `ctx.finish()` included) of each. With --warm
the player's `GofWarmer` pre-compiles GoF 1's program while GoF 0 is shown (the script waits for
it, as a GoF that plays long enough would); with --play the clip plays at its own fps instead
and the warm-up gets only the time GoF 0 plays.

    xvfb-run -a -s "-screen 0 1280x1024x24 +extension GLX" .venv/bin/python bench/gof_hitch.py CLIP --warm
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path)
    ap.add_argument("--warm", action="store_true", help="let the player warm GoF 1 (default: off)")
    ap.add_argument("--play", action="store_true", help="play at the clip's fps instead of stepping")
    ap.add_argument("--size", type=int, default=256, help="viewport size in pixels (square)")
    args = ap.parse_args(argv)

    cache = tempfile.mkdtemp(prefix="fieldcast-hitch-cache-")
    os.environ["MESA_SHADER_CACHE_DIR"] = cache  # before any GL: a cold cache for this run
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    from PySide6.QtWidgets import QApplication

    from app.player.window import PlayerWindow

    app = QApplication.instance() or QApplication([])
    win = PlayerWindow(settings_file=Path(cache) / "player.ini")
    win.viewport.setFixedSize(args.size, args.size)
    win.viewport.set_scale_mode(1.0)
    win.show()
    assert win.open_path(args.clip)
    win.pause()
    assert win.warmer is not None and win.source is not None
    if not args.warm:
        win.warmer.close()
    gof = win.source.info.gof

    def pump_until(cond, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise TimeoutError("the player did not get there in time")
            app.processEvents()
            time.sleep(0.002)

    def show(frame: int) -> dict:
        win.seek(frame)
        pump_until(lambda: win.engine.is_ready(frame, win.model.current))
        painted = win.viewport.painted
        cpu0 = time.process_time()
        win.tick()
        win.viewport.repaint()
        pump_until(lambda: win.viewport.painted > painted)
        return {
            "frame": frame,
            "render_ms": round(win.viewport.render_ms, 1),
            "upload_ms": round(win.viewport.upload_ms, 1),
            "process_cpu_ms": round((time.process_time() - cpu0) * 1e3, 1),
        }

    rows = [show(0)]
    warm_s = None
    if args.play:
        paints: list[tuple[object, float, float, float]] = []
        win.viewport.rendered.connect(
            lambda ms: paints.append(
                (win.viewport.shown_key, ms, win.viewport.upload_ms, time.thread_time())
            )
        )
        win.seek(0)
        win.play()

        def crossed() -> bool:
            return any(isinstance(p[0], tuple) and p[0][1] >= gof for p in paints)

        pump_until(crossed, 60)
        i = next(i for i, p in enumerate(paints) if isinstance(p[0], tuple) and p[0][1] >= gof)
        key, ms, up, cpu = paints[i]
        # GUI-thread CPU since the previous paint: the boundary paint's own work and a tick or two.
        gui_cpu = (cpu - paints[i - 1][3]) * 1e3 if i > 0 else None
        rows.append({"frame": key[1], "render_ms": round(ms, 1), "upload_ms": round(up, 1),
                     "gui_thread_cpu_ms": None if gui_cpu is None else round(gui_cpu, 1)})
    else:
        rows.append(show(gof - 1))
        if args.warm:
            result = win.warmer.wait(1, 300)
        rows.append(show(gof))
    result = win.warmer.results.get(1)
    if result is not None:
        warm_s = round(result.seconds, 2)
    out = {"clip": str(args.clip), "warm": args.warm, "play": args.play, "size": args.size,
           "warm_seconds": warm_s, "warm_ok": None if result is None else result.ok, "frames": rows}
    print(json.dumps(out))
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
