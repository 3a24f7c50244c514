"""`fieldcast view`: opens a clip in a real window (child process) or fails with one clear line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec.errors import FieldCastError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.gui
@pytest.mark.slow
def test_view_opens_a_clip_and_plays(tiny_fcv, tmp_path) -> None:
    import imageio.v3 as iio

    shot = tmp_path / "view.png"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    res = subprocess.run(
        [sys.executable, "-m", "app.cli", "view", str(tiny_fcv), "--size", "800x600",
         "--quit-after", "6", "--screenshot", str(shot)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, env=env,
    )
    assert res.returncode == 0, res.stderr
    assert "track 1 level 3" in res.stdout  # the status line it printed on the way out
    img = iio.imread(shot)
    assert img.shape[0] >= 300 and img.shape[1] >= 400
    assert img[..., :3].std() > 10


def test_missing_sample_clip_is_one_clear_error(monkeypatch, tmp_path) -> None:
    from app.commands import view

    monkeypatch.setattr(view, "SAMPLE", tmp_path / "sample.fcv")
    args = argparse.Namespace(file=None, paused=False, track=None, level=None, size="800x600",
                              screenshot=None, quit_after=None)
    with pytest.raises(FieldCastError, match="sample clip .* is missing"):
        view.run(args)


def test_bad_file_is_one_line_exit_2(tmp_path) -> None:
    bad = tmp_path / "junk.fcv"
    bad.write_bytes(np.arange(200, dtype=np.uint8).tobytes())
    res = subprocess.run([sys.executable, "-m", "app.cli", "view", str(bad)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "not a .fcv file" in res.stderr
