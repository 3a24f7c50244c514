"""Playback state without a window: point ordering, the frame-dropping clock, auto quality."""

from __future__ import annotations

import pytest

from app.player.state import (
    AutoQuality,
    CostModel,
    OperatingPoint,
    OperatingPointModel,
    PlaybackClock,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _points() -> list[OperatingPoint]:
    return [
        OperatingPoint(2, 2, 5000, 31.0),
        OperatingPoint(1, 1, 1000, 24.0),
        OperatingPoint(1, 2, 2500, 28.0),
        OperatingPoint(2, 1, 1800, 25.0),
    ]


def test_points_ordered_by_bitrate_and_stepping_clamps() -> None:
    model = OperatingPointModel(_points())
    assert [p.bytes_per_frame for p in model.points] == [1000, 1800, 2500, 5000]
    assert model.current.key == (2, 2)  # starts at the best point
    assert model.step(+1).key == (2, 2)
    assert model.step(-1).key == (1, 2)
    assert model.select(-5).key == (1, 1)
    assert model.select_key(2, 1).key == (2, 1) and model.index == 1
    assert model.by_track(1) == [model.points[0], model.points[2]]
    with pytest.raises(KeyError):
        model.index_of(9, 9)
    assert "track 2" in model.current.label() and "KB/frame" in model.current.label()


def test_clock_drops_frames_instead_of_slowing_down() -> None:
    now = FakeTime()
    clock = PlaybackClock(30, 10.0, now=now)
    clock.play()
    assert clock.frame() == 0
    clock.mark_shown(0)
    now.t += 0.1
    assert clock.frame() == 1
    clock.mark_shown(1)
    now.t += 0.55  # the UI stalled for 5.5 frame periods
    assert clock.frame() == 6
    assert clock.mark_shown(6) == 4
    assert clock.dropped == 4 and clock.shown == 3


def test_clock_loops_or_stops_and_steps_and_seeks() -> None:
    now = FakeTime()
    clock = PlaybackClock(10, 10.0, now=now)
    clock.play()
    now.t += 1.25
    assert clock.frame() == 2  # wrapped around
    clock.loop = False
    clock.seek(8)
    now.t += 5
    assert clock.frame() == 9 and not clock.playing
    clock.play()
    assert clock.frame() == 0  # play at the end restarts
    assert clock.step(-1) == 0 and not clock.playing
    clock.loop = True
    assert clock.step(-1) == 9
    assert clock.seek(99) == 9
    clock.fps = 20
    clock.play()
    now.t += 0.1
    assert clock.frame() == 1  # 9 + 2 frames, wrapped


def test_auto_quality_picks_highest_point_that_keeps_fps() -> None:
    model = OperatingPointModel(_points())
    costs = CostModel()
    auto = AutoQuality(target_fps=25.0, headroom=1.0, hold_s=0.0, enabled=True)
    assert auto.choose(model, costs, now=0) == model.index  # nothing measured: stay
    costs.add_render(1, 10.0)
    costs.add_render(2, 60.0)
    # Level 2 takes 60 ms > 40 ms budget: the best level-1 point wins.
    assert model.points[auto.choose(model, costs, now=1)].key == (2, 1)
    costs.render_ms[2] = 30.0
    assert model.points[auto.choose(model, costs, now=2)].key == (2, 2)
    # Decoding slower than the budget rules a point out even when rendering is fast.
    costs.add_decode(model.points[3], 80.0)
    costs.smoothing = 1.0
    costs.add_decode(model.points[3], 80.0)
    assert model.points[auto.choose(model, costs, now=3)].key == (1, 2)


def test_auto_quality_holds_before_stepping_up() -> None:
    model = OperatingPointModel(_points())
    model.select(0)
    costs = CostModel(render_ms={1: 5.0, 2: 5.0})
    auto = AutoQuality(target_fps=25.0, hold_s=1.0)
    auto._last_change = 10.0
    assert auto.choose(model, costs, now=10.5) == 0
    assert auto.choose(model, costs, now=11.5) == 3


def test_cost_model_extrapolates_unmeasured_levels() -> None:
    costs = CostModel(level_growth=2.0)
    costs.add_render(2, 10.0)
    assert costs.render_estimate(4) == pytest.approx(40.0)
    assert costs.render_estimate(1) == pytest.approx(5.0)
