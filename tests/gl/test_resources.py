"""Frame changes upload in place: bounded memory, no GL object growth, skipped re-uploads."""

from __future__ import annotations

import numpy as np
import pytest

from app.gl.headless import HeadlessRenderer
from app.gl.skip import skip_map
from app.gl.synthetic import synthetic_frame
from codec.data.cameras import orbit_camera
from codec.field.config import FieldConfig

CFG = FieldConfig.nested(3, density_base=4, plane_base=4, channels=8, hidden=(16,))


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


@pytest.mark.gl
def test_thousand_frame_changes_keep_memory_and_objects_flat(headless: HeadlessRenderer) -> None:
    frames = [synthetic_frame(CFG, f, seed=3) for f in range(4)]
    cam = orbit_camera(40, 20, 3.0, width=16, height=16)
    lods = [1, 2, 3]

    def change(i: int) -> None:
        grids = frames[i % len(frames)].at_lod(lods[(i // 7) % len(lods)])
        headless.render(grids, cam, (1, 1, 1), key=i)  # a new key each time: a real upload

    for i in range(100):  # warm-up: every LOD and size seen, allocator settled
        change(i)
    objects, rss = headless.gl_objects(), _rss_mb()
    uploads = headless.renderer.resources.stats.uploads
    for i in range(100, 1100):
        change(i)
    assert headless.renderer.resources.stats.uploads - uploads == 1000
    assert headless.gl_objects() == objects
    assert _rss_mb() - rss <= 10.0, f"RSS grew {_rss_mb() - rss:.1f} MB"


@pytest.mark.gl
def test_same_key_skips_upload_and_new_key_uploads(headless: HeadlessRenderer) -> None:
    grids = synthetic_frame(CFG, 0, seed=3)
    cam = orbit_camera(40, 20, 3.0, width=16, height=16)
    stats = headless.renderer.resources.stats
    first = headless.render(grids, cam, (1, 1, 1), key="a")
    before = stats.uploads
    again = headless.render(grids, cam, (1, 1, 1), key="a")
    assert stats.uploads == before and np.array_equal(first, again)
    other = synthetic_frame(CFG, 5, seed=3)
    changed = headless.render(other, cam, (1, 1, 1), key="b")
    assert stats.uploads == before + 1 and not np.array_equal(first, changed)


def test_skip_map_radii_are_safe_and_tight() -> None:
    rng = np.random.default_rng(0)
    import torch

    occ = torch.from_numpy(rng.random((14, 12, 10)) < 0.01)
    radii = skip_map(occ)
    occupied = np.argwhere(occ.numpy())
    assert occupied.size
    for idx in np.ndindex(*radii.shape):
        r = int(radii[idx])
        dist = np.abs(occupied - idx).max(axis=1).min()  # Chebyshev distance to occupancy
        if occ[idx]:
            assert r == 0
        else:
            assert 1 <= r and dist > r - 1  # the cube of radius r-1 is empty
            assert r == 17 or dist <= 2 * (r - 1) + 1 or r == 1  # and not far from tight
