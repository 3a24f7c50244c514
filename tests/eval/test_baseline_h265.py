"""The post-training H.265 baseline, with the real bundled ffmpeg/libx265 on tiny grids."""

from __future__ import annotations

import numpy as np
import pytest

from codec.eval.baseline_h265 import (
    LOSSLESS,
    GridSequence,
    H265Config,
    H265Point,
    dequantize,
    mosaic_layout,
    quantize,
    run_baseline,
    tile,
    untile,
)

CRFS = (LOSSLESS, 0, 16, 32)


def _smooth(rng: np.random.Generator, shape: tuple[int, ...], t: int) -> np.ndarray:
    """A smooth field that drifts with t (like a trained grid of a moving object), plus detail."""
    axes = np.meshgrid(*[np.linspace(0, 1, s) for s in shape[-2:]], indexing="ij")
    base = np.sin(6 * axes[0] + 0.3 * t) * np.cos(5 * axes[1] - 0.2 * t)
    lead = int(np.prod(shape[:-2]))
    phase = np.linspace(0, 2, lead).reshape(*shape[:-2], 1, 1)
    return (3 * base * np.cos(phase) + 0.05 * rng.standard_normal(shape)).astype(np.float32)


@pytest.fixture(scope="module")
def sequence() -> GridSequence:
    rng = np.random.default_rng(7)
    frames = 4
    density = [
        [_smooth(rng, (9,) * 3, t) - 2, _smooth(rng, (17,) * 3, t) * 0.3] for t in range(frames)
    ]
    planes = [
        [_smooth(rng, (3, 4, 17, 17), t), _smooth(rng, (3, 4, 33, 33), t) * 0.2]
        for t in range(frames)
    ]
    return GridSequence(density, planes, mlp_bytes=1234)


@pytest.fixture(scope="module")
def points(sequence: GridSequence, tmp_path_factory) -> list[H265Point]:
    cache = tmp_path_factory.mktemp("h265")
    return list(run_baseline(sequence, H265Config(crfs=CRFS, preset="ultrafast"), cache))


def _grid_rmse(a: GridSequence, b: GridSequence) -> float:
    sq, n = 0.0, 0
    for kind in ("density", "planes"):
        for fa, fb in zip(getattr(a, kind), getattr(b, kind)):
            for ga, gb in zip(fa, fb):
                sq += float(((ga.astype(np.float64) - gb) ** 2).sum())
                n += ga.size
    return (sq / n) ** 0.5


def test_quantize_round_trip_error_is_half_a_step() -> None:
    x = np.linspace(-3.0, 5.0, 10001, dtype=np.float32)
    q = quantize(x, -3.0, 5.0, 12)
    assert q.dtype == np.uint16 and q.min() == 0 and q.max() == 4095
    step = 8.0 / 4095
    assert np.abs(dequantize(q, -3.0, 5.0, 12) - x).max() <= step / 2 + 1e-6


def test_tile_untile_round_trip() -> None:
    tiles = np.arange(7 * 5 * 6, dtype=np.uint16).reshape(7, 5, 6)
    image = tile(tiles, align=8)
    rows, cols, height, width = mosaic_layout(7, 5, 6, 8)
    assert (rows, cols) == (3, 3) and image.shape == (height, width) == (16, 24)
    assert np.array_equal(untile(image, 7, 5, 6), tiles)


def test_bytes_are_counted_and_positive(points: list[H265Point], sequence: GridSequence) -> None:
    for p in points:
        assert set(p.streams) == {"density/l1", "planes/l1", "density/l2", "planes/l2"}
        assert all(len(s) > 0 for s in p.streams.values())
        side = 4 * (8 + 4)  # 4 grids: float32 (min, max) + uint32 stream length
        assert p.total_bytes() == sum(len(s) for s in p.streams.values()) + side + 1234
        assert p.bytes_per_frame() == pytest.approx(p.total_bytes() / sequence.frames)
        lod1 = len(p.streams["density/l1"]) + len(p.streams["planes/l1"]) + 2 * 12 + 1234
        assert p.total_bytes(max_level=1) == lod1 < p.total_bytes()


def test_error_falls_and_bytes_rise_as_crf_drops(points, sequence) -> None:
    errors = [_grid_rmse(p.decoded, sequence) for p in points]
    sizes = [p.total_bytes() for p in points]
    assert [p.crf for p in points] == list(CRFS)
    assert errors[0] < errors[1] < errors[2] < errors[3], errors
    assert sizes[0] > sizes[1] > sizes[2] > sizes[3], sizes


def test_lossless_point_is_exactly_the_12_bit_quantization(points, sequence) -> None:
    lossless = points[0].decoded
    for name, kind, lv in (("density/l2", "density", 1), ("planes/l1", "planes", 0)):
        lo, hi = points[0].ranges[name]
        for t in range(sequence.frames):
            src = getattr(sequence, kind)[t][lv]
            expected = dequantize(quantize(src, lo, hi, 12), lo, hi, 12)
            assert np.array_equal(getattr(lossless, kind)[t][lv], expected)


def test_crf0_is_close_to_the_float_field(points, sequence) -> None:
    best = points[1].decoded
    for kind in ("density", "planes"):
        for fa, fb in zip(getattr(best, kind), getattr(sequence, kind)):
            for ga, gb in zip(fa, fb):
                assert ga.shape == gb.shape and ga.dtype == np.float32
                span = float(gb.max() - gb.min())
                # 12-bit codes: a few codes of error at CRF 0 (one code is span/4095).
                rmse = float(np.sqrt(((ga - gb) ** 2).mean()))
                assert rmse < 8 * span / 4095, (kind, rmse, span)
                assert 20 * np.log10(span / rmse) > 50


def test_cached_points_are_reused_unchanged(points, sequence, tmp_path) -> None:
    cfg = H265Config(crfs=(16,), preset="ultrafast")
    first = next(run_baseline(sequence, cfg, tmp_path))
    marker = tmp_path / "crf16" / "density_l1.hevc"
    stamp = marker.stat().st_mtime_ns
    again = next(run_baseline(sequence, cfg, tmp_path))
    assert marker.stat().st_mtime_ns == stamp  # not re-encoded
    assert again.streams == first.streams and again.ranges == first.ranges
    assert _grid_rmse(again.decoded, first.decoded) == 0.0


def test_narrow_mosaics_do_not_crash_libx265() -> None:
    """Tiles that would make a 40-px-wide mosaic (which crashed the bundled libx265 when padded
    to 8) code and decode with the default 64-px alignment."""
    planes = np.random.default_rng(0).normal(size=(3, 4, 9, 9)).astype(np.float32)
    density = np.zeros((5, 5, 5), np.float32)
    seq = GridSequence([[density]] * 2, [[planes]] * 2)
    point = next(run_baseline(seq, H265Config(crfs=(10,), preset="ultrafast")))
    assert mosaic_layout(12, 9, 9, 64)[2:] == (64, 64)
    assert point.decoded is not None and point.decoded.planes[1][0].shape == planes.shape
