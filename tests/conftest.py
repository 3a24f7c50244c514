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
