"""Player test fixtures: a synthetic frame source and isolated QSettings."""

from __future__ import annotations

from pathlib import Path

import pytest
from player_fixtures import SyntheticSource


@pytest.fixture
def synthetic_source() -> SyntheticSource:
    return SyntheticSource()


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """QSettings in a temporary directory so tests never touch (or depend on) the user's."""
    from PySide6.QtCore import QSettings

    path = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(path))
    return path
