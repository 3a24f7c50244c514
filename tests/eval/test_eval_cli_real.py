"""`fieldcast eval --preset test` end to end with the real trainer, coder and ffmpeg (CI-sized)."""

from __future__ import annotations

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from codec.data.cameras import orbit_camera
from codec.data.dataset import write_dataset


def _tiny_dataset(root) -> None:
    """A lit, textured box seen by 5 cameras (1 test) over 2 frames, 16 px: seconds to train."""
    rng = np.random.default_rng(0)
    cams = [orbit_camera(72 * v, 20, 3.0, width=16, height=16, name=f"cam{v}") for v in range(5)]
    imgs = np.zeros((2, 5, 16, 16, 4), np.uint8)
    imgs[..., :3] = rng.integers(0, 256, size=(2, 5, 16, 16, 3))
    imgs[:, :, 4:12, 4:12, 3] = 255
    imgs[1, :, 4:12, 5:13, 3] = 255  # something moves
    write_dataset(root, cams, list(imgs), test_views=(2,), fps=5.0,
                  aabb=np.array([[-1, -1, -1], [1, 1, 1.0]]), background=(1.0, 1.0, 1.0))  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two short trainings: slow when the machine is shared
def test_eval_cli_runs_and_resumes(tmp_path) -> None:
    _tiny_dataset(tmp_path / "ds")
    out = tmp_path / "eval"
    cmd = [
        sys.executable, "-m", "app.cli", "eval", str(tmp_path / "ds"), "-o", str(out),
        "--preset", "test", "--key-steps", "30", "--p-steps", "10", "--frames", "2", "--gof", "2", "--tracks", "4", "--device", "cpu",
        "--downscale", "1", "--train-views", "1", "--crfs", "lossless,0,12,24",
        "--x265-preset", "ultrafast", "--variants", "full,post_training_h265",
    ]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=1700)
    assert first.returncode == 0, first.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    for key in ("bd_rate_vs_post_training", "bd_rate_vs_fixed_rate", "ablations", "variants"):
        assert key in results
    full = results["variants"]["full"]
    h265 = results["variants"]["post_training_h265"]
    assert sum(p["full_lod"] for p in full["points"]) == 4 and len(h265["points"]) == 4
    assert full["steps"] == {"key_steps": 30, "p_steps": 10} and full["seeds"] == [0]
    assert all(p["bytes_per_frame"] > 0 and np.isfinite(p["psnr_test"]) for p in full["points"])
    # The baseline's best (lossless) point is the float field up to 12-bit quantization.
    assert abs(results["post_training_best_gap_db"]) < 0.5
    assert iio.imread(out / "rd.png").ndim == 3
    assert "| FieldCast vs post-training H.265 |" in (out / "results.md").read_text()

    # Again: everything is reused, nothing is trained or scored again.
    stamps = {p: p.stat().st_mtime_ns for p in (out / "work").rglob("*") if p.is_file()}
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads((out / "results.json").read_text())["variants"] == results["variants"]
