"""Damaged datasets through `fieldcast encode`: one clear line on stderr naming the problem,
a non-zero exit, no traceback, and nothing written at the output path."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BAR = re.compile(r"^\s*[\w+ ]+:\s+\d+%\|[^|]*\|[^\]]*\]")
"""A tqdm progress-bar redraw ("encode:   0%|   | 0/15 [00:00<?, ?step/s]")."""


def _edit_json(root: Path, fn) -> None:
    path = root / "transforms.json"
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))  # json.dumps writes NaN / Infinity literally


def _entry(meta: dict, rel: str) -> dict:
    return next(e for e in meta["frames"] if e["file_path"] == rel)


def garbage_image(root: Path) -> str:
    (root / "images" / "cam0" / "0000.png").write_bytes(b"this is not a PNG")
    return "images/cam0/0000.png"


def truncated_image(root: Path) -> str:
    # The PNG header (size) still reads; the pixel data is cut: only decoding finds it.
    path = root / "images" / "cam2" / "0000.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return "images/cam2/0000.png"


def nan_pose(root: Path) -> str:
    _edit_json(root, lambda m: _entry(m, "images/cam3/0001.png")["transform_matrix"][0].__setitem__(3, float("nan")))
    return "transform_matrix"


def infinite_pose(root: Path) -> str:
    _edit_json(root, lambda m: _entry(m, "images/cam0/0002.png")["transform_matrix"][2].__setitem__(3, float("inf")))
    return "transform_matrix"


def camera_missing_in_one_frame(root: Path) -> str:
    _edit_json(root, lambda m: m.update(frames=[e for e in m["frames"] if e["file_path"] != "images/cam2/0001.png"]))
    return "frame 1 is missing camera"


@pytest.mark.parametrize("damage", [garbage_image, truncated_image, nan_pose, infinite_pose,
                                    camera_missing_in_one_frame])
def test_encode_reports_a_damaged_dataset_in_one_line(robust_dataset, tmp_path, damage) -> None:
    root = tmp_path / "ds"
    shutil.copytree(robust_dataset, root)
    needle = damage(root)
    out = tmp_path / "clip.fcv"
    cmd = [sys.executable, "-m", "app.cli", "encode", str(root), "-o", str(out), "--preset", "test",
           "--tracks", "2", "--levels", "2", "--gof", "3", "--downscale", "1", "--device", "cpu",
           "--key-steps", "5", "--p-steps", "5"]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0, res.stdout[-500:]
    # What remains of stderr once the progress bar's redraws are taken out: the message alone.
    # (A bar still open when training fails shares the terminal line with the message.)
    segments = re.split(r"[\r\n]+", res.stderr)
    err = [rest for seg in segments if (rest := BAR.sub("", seg).strip())]
    assert "Traceback" not in res.stderr
    assert len(err) == 1, res.stderr[-2000:]
    assert err[0].startswith("fieldcast encode: error:"), err[0]
    assert needle in err[0], err[0]
    assert not out.exists()
