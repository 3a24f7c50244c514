"""Tiny training fixtures: figure128 at 32 px (downscale 4) and the `test` preset."""

from __future__ import annotations

import pytest

from codec.data.dataset import load_dataset
from codec.train.config import preset


@pytest.fixture(scope="session")
def tiny(figure128):
    pre = preset("test")
    return load_dataset(figure128, downscale=pre.downscale)


@pytest.fixture(scope="session")
def test_preset():
    return preset("test")
