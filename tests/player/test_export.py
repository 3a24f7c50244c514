"""Turntable export through the CLI (its own process: headless EGL never meets Qt's GLX here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app.export.turntable import TurntableSpec, clip_frame_at, turntable_camera

ROOT = Path(__file__).resolve().parents[2]


def fieldcast(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout,
    )


def torch_reference(clip: Path, spec: TurntableSpec, index: int, track: int, level: int) -> np.ndarray:
    """The offline (torch) render of turntable frame ``index``, as 8-bit RGB."""
    from codec.decode.decoder import Decoder
    from codec.render.torch_renderer import render_frame

    dec = Decoder(clip, "cpu")
    h = dec.header
    frame = clip_frame_at(spec, h.frames, h.fps, index)
    cam = turntable_camera(spec, h.aabb, index)
    origins, dirs = cam.rays()
    out = render_frame(dec.frame(frame, track, level), origins, dirs, torch.tensor(h.background))
    rgb = out.rgb.view(spec.height, spec.width, 3).clamp(0, 1).numpy()
    return (rgb * 255 + 0.5).astype(np.uint8)


@pytest.mark.slow
def test_turntable_mp4_has_the_frames_and_matches_offline_renders(tiny_fcv, tmp_path) -> None:
    import imageio.v3 as iio

    out = tmp_path / "spin.mp4"
    res = fieldcast("export", str(tiny_fcv), "--turntable", "-o", str(out), "--seconds", "1.2",
                    "--fps", "10", "--res", "64x48", "--track", "1", "--level", "3", "--crf", "12")
    assert res.returncode == 0, res.stderr
    frames = iio.imread(out, plugin="pyav") if False else np.stack(list(iio.imiter(out)))
    assert frames.shape == (12, 48, 64, 3)
    spec = TurntableSpec(output=out, seconds=1.2, fps=10, width=64, height=48, track=1, level=3)
    for k in (3, 6):
        refs = {j: torch_reference(tiny_fcv, spec, j, 1, 3).astype(float) for j in (k - 1, k, k + 1)}
        err = {j: float(((frames[k].astype(float) - ref) ** 2).mean()) for j, ref in refs.items()}
        assert err[k] < err[k - 1] and err[k] < err[k + 1], err
        psnr = 10 * np.log10(255.0**2 / max(err[k], 1e-9))
        assert psnr > 28, psnr  # H.264 at crf 12 on top of GLSL-vs-torch agreement
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.slow
def test_side_by_side_gif_with_labels(tiny_fcv, tmp_path) -> None:
    import imageio.v3 as iio

    out = tmp_path / "cmp.gif"
    res = fieldcast("export", str(tiny_fcv), "--turntable", "-o", str(out), "--seconds", "0.5",
                    "--fps", "10", "--res", "64", "--track", "1", "--level", "3", "--compare", "0", "1")
    assert res.returncode == 0, res.stderr
    frames = np.stack(list(iio.imiter(out)))
    assert frames.shape[:3] == (5, 64, 128)
    # Labels: black boxes with white text in the top-left corner of each panel.
    for x0 in (0, 64):
        corner = frames[0, 2:14, x0 + 2 : x0 + 40, :3]
        assert (corner < 40).all(-1).mean() > 0.3 and (corner > 200).all(-1).any()


def test_unwritable_output_is_reported_before_rendering(tiny_fcv, tmp_path, capsys) -> None:
    from app.cli import main
    from app.export.turntable import check_output
    from codec.errors import FieldCastError

    # In-process: these fail before any decoding or GL, so no EGL context is ever created here.
    assert main(["export", str(tiny_fcv), "--turntable", "-o", str(tmp_path / "no" / "x.mp4")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "does not exist" in err
    assert main(["export", str(tiny_fcv), "--turntable", "-o", str(tmp_path / "x.avi")]) == 2
    assert ".mp4" in capsys.readouterr().err
    assert main(["export", str(tiny_fcv), "--turntable", "-o", str(tmp_path)]) == 2
    assert "directory" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.geteuid() != 0:  # root writes anywhere; the check rightly lets it
            with pytest.raises(FieldCastError, match="cannot write"):
                check_output(locked / "x.mp4", "h264")
    finally:
        locked.chmod(0o700)
    assert not any(p.name.startswith(".fieldcast-probe") for p in tmp_path.rglob("*"))
