"""Player test fixtures: a synthetic frame source and isolated QSettings."""

from __future__ import annotations

from pathlib import Path

import pytest
from player_fixtures import SyntheticSource


@pytest.fixture
def synthetic_source() -> SyntheticSource:
    return SyntheticSource()


@pytest.fixture
def isolated_settings(tmp_path: Path) -> Path:
    """An INI file for the window's QSettings, so tests never touch (or depend on) the user's."""
    return tmp_path / "player.ini"


@pytest.fixture(scope="session")
def tiny_fcv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real .fcv (2 GoFs, 2 tracks, 3 levels, 8 frames) encoded once per session."""
    from player_fixtures import write_blob_clip

    return write_blob_clip(tmp_path_factory.mktemp("clip") / "blob.fcv")
