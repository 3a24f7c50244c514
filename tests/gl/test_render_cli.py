"""`fieldcast render`: PNGs from a real .fcv match the torch renderer; bad arguments exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import masked_psnr, torch_reference

from app.cli import main
from codec.data.cameras import Camera
from codec.decode import Decoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "player"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from player_fixtures import write_blob_clip

    return write_blob_clip(tmp_path_factory.mktemp("clip") / "blob.fcv")


@pytest.mark.gl
def test_render_frames_match_torch(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "png"
    assert main(["render", str(clip), "--frames", "3:5", "--camera", "1", "--track", "0",
                 "--level", "2", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["frame_00003.png", "frame_00004.png"]
    dec = Decoder(clip, "cpu")
    cam = Camera.from_json_entry(dec.header.cameras[1])
    grids = dec.frame(4, 0, 2)
    ref = torch_reference(grids, cam, dec.header.background)
    png = iio.imread(out / "frame_00004.png").astype(np.float32) / 255.0
    assert png.shape == (cam.height, cam.width, 3)
    mask = ref[..., 3] > 0.01
    assert mask.mean() > 0.02
    assert masked_psnr(png, ref[..., :3], mask) >= 40.0  # 8-bit PNG rounding bounds it


@pytest.mark.gl
def test_render_orbit_with_size_and_alpha(clip: Path, tmp_path: Path) -> None:
    assert main(["render", str(clip), "--frames", "0:3", "--camera", "orbit", "--res", "40x30",
                 "--alpha", "-o", str(tmp_path)]) == 0
    imgs = [iio.imread(tmp_path / f"frame_{t:05d}.png") for t in range(3)]
    assert all(img.shape == (30, 40, 4) for img in imgs)
    assert not np.array_equal(imgs[0], imgs[1])  # the camera moved (and the clip played)


@pytest.mark.parametrize(
    "extra",
    [["--frames", "7:99"], ["--frames", "x"], ["--res", "12by3"], ["--level", "9"],
     ["--camera", "17"], ["--scale", "0"]],
)
def test_render_bad_arguments_exit_2(clip: Path, tmp_path: Path, extra: list[str], capsys) -> None:
    assert main(["render", str(clip), *extra, "-o", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err
