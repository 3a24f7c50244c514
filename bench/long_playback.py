"""Long playback: loop a clip for 10,000 frames in the real player window with a quality change
every few frames; resident memory must grow < 5% after warm-up and no GL object may accumulate.

    .venv/bin/python bench/long_playback.py --json long_playback.json     # re-runs under Xvfb

Drives `PlayerWindow` frame by frame (tests/robust/playback_driver.py): every frame is seeked
to and waited for until painted at the current operating point. Prints a table of the samples
and a summary; --json writes both. Exit status 1 when a bound is broken.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "robust"))

RSS_GROWTH_LIMIT = 5.0
"""Percent of resident memory growth allowed from the end of warm-up to the end."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=10_000, help="frames to show (default 10000)")
    p.add_argument("--change-every", type=int, default=7, help="frames between quality changes (default 7)")
    p.add_argument("--clip", type=Path, default=None,
                   help=".fcv to loop (default: a synthetic 24-frame, 4-GoF, 2-track, 3-level clip)")
    p.add_argument("--size", default="320x240", help="window size WxH (default 320x240)")
    p.add_argument("--sample-every", type=int, default=250, help="frames between samples (default 250)")
    p.add_argument("--json", type=Path, default=None, help="write summary and samples here")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("FIELDCAST_NO_XVFB"):
        if shutil.which("xvfb-run") is None:
            print("long_playback: needs an X display (or xvfb-run)", file=sys.stderr)
            return 2
        env = dict(os.environ, FIELDCAST_NO_XVFB="1", QT_QPA_PLATFORM="xcb")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24 +extension GLX",
               sys.executable, *sys.argv]
        os.execvpe(cmd[0], cmd, env)
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    import torch
    from PySide6.QtWidgets import QApplication

    torch.set_num_threads(2)
    app = QApplication([sys.argv[0]])
    from playback_driver import run_playback, write_loop_clip

    from app.player.window import PlayerWindow

    work = Path(tempfile.mkdtemp(prefix="fieldcast-long-"))
    clip = args.clip or write_loop_clip(work / "loop.fcv")
    w, h = (int(x) for x in args.size.lower().split("x"))
    win = PlayerWindow(settings_file=work / "player.ini")
    win.resize(w, h)
    win.show()
    for _ in range(100):
        app.processEvents()
        time.sleep(0.005)

    def progress(done: int) -> None:
        print(f"\r{done}/{args.frames} frames", end="", file=sys.stderr, flush=True)

    rep = run_playback(win, clip, args.frames, change_every=args.change_every,
                       sample_every=args.sample_every, progress=progress)
    print(file=sys.stderr)
    win.close()
    s = rep.summary()
    s["clip"] = str(clip)
    s["window"] = args.size
    ok = (
        s["rss_growth_percent"] < RSS_GROWTH_LIMIT
        and s["gl_objects_end"] == s["gl_objects_warm"] == s["gl_objects_max"]
        and s["gl_live_end"] == s["gl_live_warm"]
    )
    s["ok"] = ok
    print("| frames | s | RSS MB | renderer GL objects | live GL (tex, buf, fbo) | GL names | cache MB | threads |")
    print("|---:|---:|---:|---:|---|---|---:|---:|")
    for x in rep.samples:
        print(f"| {x.frames} | {x.seconds:.1f} | {x.rss / 2**20:.1f} | {x.gl_objects} | {x.gl_live} "
              f"| {x.gl_names} | {x.cache_bytes / 2**20:.2f} | {x.threads} |")
    print()
    print("| summary | value |\n|---|---|")
    for k, v in s.items():
        print(f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |")
    if args.json:
        out = rep.to_json()
        out["summary"] = s
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
