"""`fieldcast bench encode`: real encode, decode and player children; their peak memory."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest

from app.bench.encode import run_child
from app.cli import main


def test_run_child_reports_the_child_peak_rss() -> None:
    # 300 MiB of touched bytes: the child's high-water mark must show them, and only the child's.
    code = "import sys; b = b'x' * (300 * 2**20); sys.stdout.write(str(len(b)))"
    run = run_child([sys.executable, "-c", code], dict(os.environ))
    assert run.returncode == 0 and run.stdout == str(300 * 2**20)
    assert 300 <= run.peak_rss_mb < 600
    small = run_child([sys.executable, "-c", "pass"], dict(os.environ))
    assert small.peak_rss_mb < 100


def test_failed_child_is_one_line_error(tmp_path, capsys) -> None:
    assert main(["bench", "encode", "--dataset", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such dataset" in err[0]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_bench_encode_end_to_end(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    if not os.environ.get("DISPLAY"):
        pytest.skip("playback needs an X server (scripts/test.sh runs the suite under Xvfb)")
    keep = tmp_path / "keep"
    out = tmp_path / "encode.json"
    args = ["bench", "encode", "--dataset", str(tiny_dataset), "--preset", "test",
            "--frames", "3", "--gof", "3", "--tracks", "2", "--playback-seconds", "1",
            "--keep", str(keep), "--json", "--out", str(out),
            "--extra", "--downscale", "1", "--key-steps", "20", "--p-steps", "8"]  # fmt: skip
    assert main(args) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert len(result["key_seconds"]) == 1 and len(result["p_seconds"]) == 2
    assert all(s > 0 for s in result["key_seconds"] + result["p_seconds"])
    assert result["p_seconds_max"] == pytest.approx(max(result["p_seconds"]), abs=0.01)
    assert result["file_bytes"] == (keep / "clip.fcv").stat().st_size
    # Every stage imports torch (~100+ MB resident) and none should need gigabytes here.
    for stage in ("encode", "decode", "playback"):
        assert 100 < result[f"{stage}_peak_rss_mb"] < 4096, stage
    report = json.loads((keep / "encode.json").read_text())
    assert [f["key"] for f in report["trained_frames"]] == [True, False, False]
    assert [f["steps"] for f in report["trained_frames"]] == [20, 8, 8]
    assert len(report["operating_points"]) == 2 * 3
    png = iio.imread(keep / "decoded.png")
    assert png.shape[:2] == (48, 48)
    assert result["decode_point"] == {"frame": 2, "track": 1, "level": 3}
