"""The playback engine: worker-thread decoding, prefetch, live quality changes, damage."""

from __future__ import annotations

import threading
import time

import pytest
from player_fixtures import SyntheticSource

from app.player.engine import PlaybackEngine
from app.player.state import OperatingPointModel


def _wait(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_decodes_on_worker_and_prefetches(synthetic_source: SyntheticSource) -> None:
    model = OperatingPointModel(synthetic_source.info.points)
    eng = PlaybackEngine(synthetic_source, model.current, prefetch=4)
    try:
        _wait(lambda: eng.frame_for(0) is not None)
        _wait(lambda: all(eng.is_ready(f, model.current) for f in range(4)))
        assert threading.current_thread().name not in synthetic_source.threads
        assert synthetic_source.threads == {"fieldcast-decode"}
        shown = eng.frame_for(2)
        assert shown is not None and shown.grids is not None
        assert shown.grids.lod == model.current.level
    finally:
        eng.close()


def test_ui_never_blocks_on_a_slow_decode() -> None:
    src = SyntheticSource(delay_s=0.3)
    model = OperatingPointModel(src.info.points)
    eng = PlaybackEngine(src, model.current)
    try:
        t0 = time.perf_counter()
        for f in range(5):
            eng.frame_for(f)
        assert time.perf_counter() - t0 < 0.1
    finally:
        eng.close()


def test_level_down_within_track_shows_at_once(synthetic_source: SyntheticSource) -> None:
    model = OperatingPointModel(synthetic_source.info.points)
    top = model.current
    eng = PlaybackEngine(synthetic_source, top)
    try:
        _wait(lambda: eng.frame_for(0) is not None)
        lower = model.select_key(top.track, 1)
        eng.set_target(lower)
        shown = eng.frame_for(0)
        assert shown is not None and shown.point == lower and shown.grids.lod == 1
        assert eng.last_catchup_s is not None and eng.last_catchup_s < 0.1
    finally:
        eng.close()


def test_track_change_keeps_old_point_until_new_one_catches_up() -> None:
    src = SyntheticSource(delay_s=0.05)
    model = OperatingPointModel(src.info.points)
    old = model.select_key(1, 3)
    eng = PlaybackEngine(src, old, prefetch=4)
    try:
        eng.set_playing(True)
        _wait(lambda: all(eng.is_ready(f, old) for f in range(4)))
        new = model.select_key(2, 3)
        eng.set_target(new)
        shown = eng.frame_for(1)
        assert shown is not None and shown.point == old  # the old point keeps playing
        frame = 1
        deadline = time.monotonic() + 10
        while eng.displayed != new:
            assert time.monotonic() < deadline
            time.sleep(0.04)
            frame += 1
            eng.frame_for(frame)
        assert eng.last_catchup_s is not None and eng.last_catchup_s > 0.04
        assert eng.worst_catchup_s >= eng.last_catchup_s
        kinds = []
        while not eng.events.empty():
            kinds.append(eng.events.get().kind)
        assert "switched" in kinds
    finally:
        eng.close()


def test_damaged_chunk_falls_back_and_warns_once() -> None:
    src = SyntheticSource(damaged={(3, 2, 3), (5, 2, 1)})
    model = OperatingPointModel(src.info.points)
    eng = PlaybackEngine(src, model.select_key(2, 3), prefetch=8)
    try:
        _wait(lambda: all(eng.is_ready(f, model.current) for f in range(8)))
        shown3 = eng.frame_for(3)
        assert shown3.grids is not None and shown3.level == 2  # highest intact level
        shown5 = eng.frame_for(5)
        assert shown5.grids is None  # nothing intact: the UI holds the last good frame
        assert eng.frame_for(4).grids.lod == 3
        warnings = []
        while not eng.events.empty():
            ev = eng.events.get()
            if ev.kind == "warning":
                warnings.append(ev.message)
        assert len(warnings) == 1 and "damaged" in warnings[0]
    finally:
        eng.close()


@pytest.mark.parametrize("cache_mb", [0.05])
def test_cache_stays_bounded(cache_mb: float) -> None:
    src = SyntheticSource(frames=30)
    model = OperatingPointModel(src.info.points)
    eng = PlaybackEngine(src, model.current, prefetch=4, cache_mb=cache_mb)
    try:
        for f in range(30):
            eng.frame_for(f)
            time.sleep(0.01)
        n, nbytes = eng.cache_info()
        assert n >= 1
        assert n <= 2 or nbytes <= cache_mb * 2**20
    finally:
        eng.close()


def test_prepare_runs_on_the_worker(synthetic_source: SyntheticSource) -> None:
    from app.gl.resources import prepare_frame

    threads = set()

    def prepare(grids):
        threads.add(threading.current_thread().name)
        return prepare_frame(grids)

    model = OperatingPointModel(synthetic_source.info.points)
    eng = PlaybackEngine(synthetic_source, model.current, prepare=prepare)
    try:
        _wait(lambda: eng.frame_for(0) is not None)
        shown = eng.frame_for(0)
        assert shown.prepared is not None and shown.payload is shown.prepared
        assert shown.prepared.density.shape[0] == shown.grids.composed()[0].shape[0]
        assert threads == {"fieldcast-decode"}
    finally:
        eng.close()


def test_change_to_a_decoded_point_shows_on_the_next_frame(synthetic_source: SyntheticSource) -> None:
    model = OperatingPointModel(synthetic_source.info.points)
    a, b = model.select_key(1, 3), model.select_key(2, 2)
    eng = PlaybackEngine(synthetic_source, a, prefetch=4)
    try:
        _wait(lambda: eng.is_ready(0, a))
        eng.set_target(b)
        _wait(lambda: eng.is_ready(0, b))
        assert eng.frame_for(0).point == b
        eng.set_target(a)  # frame 0 at `a` is still cached: no catch-up at all
        shown = eng.frame_for(0)
        assert shown.point == a and eng.displayed == a
        assert eng.last_catchup_s < 0.05
    finally:
        eng.close()
