"""Helpers for the data tests: tiny hand-made datasets written with the real writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from codec.data.cameras import orbit_camera
from codec.data.dataset import write_dataset


def _make(
    root: Path, frames: int = 2, views: int = 3, width: int = 8, height: int = 6, seed: int = 0,
    test_views: tuple[int, ...] = (1,), aabb: bool = True,
) -> tuple[Path, np.ndarray, list]:
    rng = np.random.default_rng(seed)
    cams = [
        orbit_camera(360 * v / views, 20, 3.0, width=width, height=height, name=f"cam{v:02d}")
        for v in range(views)
    ]
    imgs = rng.integers(0, 256, size=(frames, views, height, width, 4), dtype=np.uint8)
    write_dataset(
        root, cams, list(imgs), test_views=test_views, fps=5.0,
        aabb=np.array([[-1, -1, -1], [1, 1, 1.0]]) if aabb else None,
        background=(0.2, 0.4, 0.6),
    )
    return root, imgs, cams


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., tuple[Path, np.ndarray, list]]:
    """make_dataset(name="ds", **kw) -> (root, uint8 images (F,V,H,W,4), cameras)."""

    def make(name: str = "ds", **kw):
        return _make(tmp_path / name, **kw)

    return make
