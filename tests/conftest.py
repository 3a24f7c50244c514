"""Shared test set-up: threads pinned to 2, tiny fixtures built once per run."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")
os.environ.setdefault("LP_NUM_THREADS", "2")

import torch  # noqa: E402

torch.set_num_threads(2)

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def figure128() -> Path:
    """The fixed benchmark scene `<repo>/../shared/bench/figure128` (skips when absent)."""
    path = (REPO.parent / "shared" / "bench" / "figure128").resolve()
    if not (path / "transforms.json").is_file():
        pytest.skip(f"benchmark scene not found at {path}")
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic scene, built once per test run: 4 frames, 8 train + 2 test views, 48 px.
    Shared: treat it as read-only."""
    from codec.data.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("tiny_dataset")
    cfg = SynthConfig(frames=4, views=10, test_views=2, resolution=48, seed=0)
    generate(root, cfg, progress=False)
    return root
