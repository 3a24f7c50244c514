"""Looping playback with quality changes: memory, cache and GL objects stay bounded."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_looping_with_quality_changes_stays_bounded(qtbot, isolated_settings, tiny_fcv) -> None:
    from app.player.window import PlayerWindow

    win = PlayerWindow(settings_file=isolated_settings)
    qtbot.addWidget(win)
    win.resize(480, 360)
    win.show()
    qtbot.waitExposed(win)
    win.open_path(tiny_fcv)
    win.timeline.fps_box.setValue(40.0)
    n = len(win.model)

    def run_changes(count: int) -> None:
        for i in range(count):
            win.select_point((i * 5) % n)  # hops across tracks and levels
            qtbot.wait(150)

    run_changes(2 * n)  # warm-up: every point, every LOD's textures and programs
    shown0, rss0, gl0 = win.clock.shown, rss_mb(), win.viewport.gl_objects()
    cache0 = win.engine.cache_info()[1]
    run_changes(6 * n)
    assert win.clock.shown > shown0 + 10, "playback stalled"
    assert win.viewport.gl_objects() == gl0
    assert win.engine.cache_info()[1] <= max(cache0, 1) * 4 + 8 * 2**20
    grown = rss_mb() - rss0
    print(f"looped {win.clock.shown - shown0} frames, {6 * n} quality changes: RSS +{grown:.1f} MB, "
          f"GL objects {gl0}, worst catch-up {win.engine.worst_catchup_s * 1000:.0f} ms")
    assert grown < 40.0
    win.close()
