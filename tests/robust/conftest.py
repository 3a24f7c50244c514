"""Fixtures of the robustness tests: one tiny real .fcv clip, encoded once per session."""

from __future__ import annotations

import pytest
from fcv_fuzz_cases import TinyClip, build_tiny_clip


@pytest.fixture(scope="session")
def fuzz_clip() -> TinyClip:
    """2 GoFs x 2 tracks x 2 levels, 3 frames, about 6 KB, from synthetic float chains."""
    clip = build_tiny_clip()
    assert len(clip.data) <= 20_000
    return clip


@pytest.fixture(scope="session")
def robust_dataset(tmp_path_factory: pytest.TempPathFactory):
    """3 frames x 4 views of 16x16 RGBA (a square object on a clear background): the smallest
    dataset `fieldcast encode --preset test` trains on."""
    import numpy as np

    from codec.data.cameras import orbit_camera
    from codec.data.dataset import write_dataset

    root = tmp_path_factory.mktemp("robust-ds") / "ds"
    rng = np.random.default_rng(0)
    cams = [orbit_camera(90 * v, 20, 3.0, width=16, height=16, name=f"cam{v}") for v in range(4)]
    imgs = rng.integers(0, 256, size=(3, 4, 16, 16, 4), dtype=np.uint8)
    imgs[..., 3] = 0
    imgs[:, :, 4:12, 4:12, 3] = 255
    write_dataset(root, cams, list(imgs), test_views=(1,), fps=5.0,
                  aabb=np.array([[-1, -1, -1], [1, 1, 1.0]]), background=(1.0, 1.0, 1.0))
    return root
