"""The shipped sample clip (assets/sample.fcv) still opens and decodes with the current format."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample.fcv"


@pytest.mark.skipif(not SAMPLE.is_file(), reason="assets/sample.fcv not built yet (make sample-clip)")
def test_sample_clip_opens_and_decodes() -> None:
    from app.commands.view import SAMPLE as VIEW_DEFAULT
    from app.player.fcv_source import open_fcv

    assert VIEW_DEFAULT == SAMPLE  # `fieldcast view` with no file opens it
    assert SAMPLE.stat().st_size <= 10 * 2**20
    src = open_fcv(SAMPLE, "cpu")
    info = src.info
    assert info.frames >= 30 and info.frames // info.gof >= 2
    assert info.levels >= 4 and info.tracks >= 4
    assert len(info.points) == info.levels * info.tracks
    lowest = min(info.points, key=lambda p: p.bytes_per_frame)
    best = max(info.points, key=lambda p: p.bytes_per_frame)
    for point in (lowest, best):
        grids = src.decode(info.gof, point.track, point.level)  # a P-frame chain of GoF 1
        assert grids.lod == point.level
    assert info.cameras
