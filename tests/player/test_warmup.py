"""The player pre-compiles the next GoF's MLP program in a helper process (app/player/warmup.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import torch

from app.player.warmup import GofWarmer
from codec.errors import FormatError


class RecordingHelper:
    """Stands in for the helper process in the bookkeeping tests (which GoF, how often)."""

    def __init__(self, fail: bool = False, block: bool = False) -> None:
        self.fail = fail
        self.warmed: list[list[tuple[torch.Tensor, torch.Tensor]]] = []
        self.closed = False
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.block = block

    def warm(self, mlp, channels, params) -> None:
        self.started.set()
        if self.block and self.cancelled.wait(10):
            raise RuntimeError("warm helper exited (code -15)")
        if self.fail:
            raise RuntimeError("helper exited (code 1)")
        self.warmed.append(mlp)

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


def _mlp_of(gof: int):
    w = torch.full((3, 4), float(gof))
    return [(w, torch.zeros(3))], 4, None


def test_source_reads_each_gofs_mlp_without_decoding(tiny_fcv: Path) -> None:
    from app.player.fcv_source import open_fcv

    src = open_fcv(tiny_fcv, "cpu")
    gof = src.info.gof
    for g in (0, 1):
        mlp, channels, params = src.gof_mlp(g)
        grids = src.decode(g * gof, 0, 1)
        decoded = grids.mlp
        assert channels == grids.channels and params == grids.params
        assert len(mlp) == len(decoded)
        for (w, b), (dw, db) in zip(mlp, decoded):
            assert torch.equal(w, dw.cpu()) and torch.equal(b, db.cpu())
    with pytest.raises(FormatError):
        src.gof_mlp(2)


def test_next_gof_is_requested_once_and_never_the_one_playing() -> None:
    helpers: list[RecordingHelper] = []

    def start(env):
        helpers.append(RecordingHelper())
        return helpers[-1]

    warmer = GofWarmer(3, _mlp_of, start=start)
    try:
        assert warmer.enter(0) == 1
        assert warmer.enter(0) is None  # once per GoF
        assert warmer.wait(1, 10).ok
        assert warmer.enter(1) == 2
        assert warmer.wait(2, 10).ok
        assert warmer.enter(2) is None  # GoF 0 was played (compiled by the player itself)
        assert warmer.requested == [1, 2]
        assert len(helpers) == 1  # one helper for the clip
        assert [float(m[0][0][0, 0]) for m in helpers[0].warmed] == [1.0, 2.0]
    finally:
        warmer.close()
    assert helpers[0].closed


def test_nothing_to_warm_with_one_gof_no_mlp_or_disabled() -> None:
    assert GofWarmer(1, _mlp_of, start=lambda env: RecordingHelper()).enter(0) is None
    assert GofWarmer(2, None, start=lambda env: RecordingHelper()).enter(0) is None
    ready = [False]
    warmer = GofWarmer(2, _mlp_of, start=lambda env: RecordingHelper(), enabled=lambda: ready[0])
    try:
        assert warmer.enter(0) is None  # e.g. no GL context yet: asked again on the next tick
        ready[0] = True
        assert warmer.enter(0) == 1
    finally:
        warmer.close()


def test_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    helpers: list[RecordingHelper] = []

    def start(env):
        helpers.append(RecordingHelper(fail=len(helpers) == 0))
        return helpers[-1]

    def mlp_of(gof: int):
        if gof == 2:
            raise FormatError("GoF chunk 2: CRC mismatch (damaged chunk)")
        return _mlp_of(gof)

    warmer = GofWarmer(4, mlp_of, start=start)
    try:
        with caplog.at_level(logging.WARNING, logger="app.player.warmup"):
            warmer.enter(0)
            assert not warmer.wait(1, 10).ok
            warmer.enter(1)
            assert "CRC mismatch" in warmer.wait(2, 10).message
            warmer.enter(2)
            assert warmer.wait(3, 10).ok  # a fresh helper replaced the failed one
        assert helpers[0].closed and len(helpers) == 2
        assert sum("could not warm GoF" in r.message for r in caplog.records) == 2
    finally:
        warmer.close()


def test_a_warm_up_still_running_when_its_gof_starts_is_abandoned() -> None:
    helpers: list[RecordingHelper] = []

    def start(env):
        helpers.append(RecordingHelper(block=len(helpers) == 0))
        return helpers[-1]

    warmer = GofWarmer(3, _mlp_of, start=start)
    try:
        assert warmer.enter(0) == 1
        deadline = time.monotonic() + 10
        while not helpers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert helpers and helpers[0].started.wait(10)
        assert warmer.enter(1) == 2  # playback reached GoF 1 first: stop compiling it beside
        result = warmer.wait(1, 10)
        assert result is not None and not result.ok and "too late" in result.message
        assert helpers[0].cancelled.is_set() and helpers[0].closed
        assert warmer.wait(2, 10).ok and len(helpers) == 2  # the next GoF gets a fresh helper
    finally:
        warmer.close()


@pytest.mark.gui
@pytest.mark.slow  # a real helper process: starting it and a cold compile take seconds
def test_playing_gof_0_warms_gof_1_into_the_shader_cache(
    qtbot, isolated_settings, tiny_fcv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.gl.warm import warm_mlp_program
    from app.player.window import PlayerWindow

    cache = tmp_path / "mesa-cache"
    # The helper inherits this; the player's own GL context was set up before (its cache is not
    # affected), so everything in `cache` comes from the helper.
    monkeypatch.setenv("MESA_SHADER_CACHE_DIR", str(cache))
    monkeypatch.setenv("MESA_SHADER_CACHE_DISABLE", "false")
    win = PlayerWindow(settings_file=isolated_settings)
    qtbot.addWidget(win)
    win.resize(480, 360)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_path(tiny_fcv)
    win.pause()
    win.seek(0)
    qtbot.waitUntil(lambda: win.viewport.painted > 0, timeout=30000)
    win.tick()
    warmer = win.warmer
    assert warmer is not None and warmer.requested == [1]
    result = warmer.wait(1, 120)
    assert result is not None and result.ok, result
    written = {p for p in cache.rglob("*") if p.is_file()}
    assert written, "the helper wrote nothing to the shader cache"

    # The cache effect: compiling GoF 1's program again (a fresh process, the same cache) is a
    # hit and writes nothing new, while another MLP is a miss and does.
    env = {"MESA_SHADER_CACHE_DIR": str(cache), "MESA_SHADER_CACHE_DISABLE": "false"}
    mlp, channels, params = win.source.gof_mlp(1)
    assert warm_mlp_program(mlp, channels, params, wait=True, env=env).returncode == 0
    assert {p for p in cache.rglob("*") if p.is_file()} == written
    other = [(w + 0.5, b) for w, b in mlp]
    assert warm_mlp_program(other, channels, params, wait=True, env=env).returncode == 0
    assert {p for p in cache.rglob("*") if p.is_file()} > written

    helper = warmer.helper
    assert helper is not None and helper.proc.poll() is None
    win.close()
    assert helper.proc.poll() is not None, "the helper outlived the player"
    assert warmer.helper is None
