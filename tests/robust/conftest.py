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
