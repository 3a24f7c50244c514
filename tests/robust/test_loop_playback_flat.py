"""Looping playback with quality changes, frame by frame through the real window: resident
memory grows < 5% after warm-up, the renderer's GL object count stays put and no GL object
accumulates in the viewport's context (the 10,000-frame run is bench/long_playback.py)."""

from __future__ import annotations

import pytest
from playback_driver import run_playback, write_loop_clip

pytestmark = pytest.mark.gui


@pytest.mark.slow
def test_short_loop_keeps_memory_and_gl_objects_flat(qtbot, tmp_path) -> None:
    from app.player.window import PlayerWindow

    clip = write_loop_clip(tmp_path / "loop.fcv", frames=12, gof=4, levels=2)
    win = PlayerWindow(settings_file=tmp_path / "player.ini")
    qtbot.addWidget(win)
    win.resize(320, 240)
    win.show()
    qtbot.waitExposed(win)
    rep = run_playback(win, clip, frames=240, change_every=5, sample_every=12)
    s = rep.summary()
    print(f"\nlong playback (short loop): {s}")
    assert s["quality_changes"] == 48 and rep.warm.frames == 48
    assert s["rss_growth_percent"] < 5.0, s
    assert s["gl_objects_end"] == s["gl_objects_warm"] == s["gl_objects_max"], s
    # Live objects of the whole context (Qt's included), counted by the driver itself.
    assert s["gl_live_end"] == s["gl_live_warm"], s
    assert all(m <= w + 2 for m, w in zip(s["gl_live_max_after_warmup"], s["gl_live_warm"])), s
    assert s["threads_end"] == s["threads_warm"], s
    win.close()
