"""GLSL renders agree with the torch renderer: random cameras, every LOD, several frames."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import masked_psnr, torch_reference

from app.gl.headless import HeadlessRenderer
from app.gl.synthetic import synthetic_frame
from codec.data.cameras import orbit_camera
from codec.field.config import FieldConfig, RenderParams

PSNR_MIN = 45.0
CFG = FieldConfig.nested(4, density_base=8, plane_base=8, channels=8, hidden=(32, 32))


def _random_camera(rng: np.random.Generator, size=(48, 40)):
    cam = orbit_camera(
        azimuth_deg=float(rng.uniform(0, 360)),
        elevation_deg=float(rng.uniform(-60, 60)),
        radius=float(rng.uniform(2.2, 3.5)),
        target=tuple(rng.uniform(-0.15, 0.15, 3)),
        fov_deg=float(rng.uniform(35, 55)),
        width=size[0],
        height=size[1],
    )
    return cam


def _check(gl_img: np.ndarray, ref: np.ndarray, what: str) -> tuple[float, float]:
    mask = ref[..., 3] > 0.01
    assert mask.mean() > 0.02, f"{what}: the object is barely visible, the check would be empty"
    rgb = masked_psnr(gl_img[..., :3], ref[..., :3], mask)
    alpha = masked_psnr(gl_img[..., 3], ref[..., 3], mask)
    assert rgb >= PSNR_MIN and alpha >= PSNR_MIN, f"{what}: rgb {rgb:.1f} dB, alpha {alpha:.1f} dB"
    # Pixels the torch renderer leaves empty stay empty (background, A = 0) here too.
    empty = ref[..., 3] == 0
    assert np.abs(gl_img[empty] - ref[empty]).max(initial=0.0) < 1e-5, what
    return rgb, alpha


@pytest.mark.gl
@pytest.mark.parametrize("frame", [0, 3, 7])
@pytest.mark.parametrize("lod", [1, 2, 3, 4])
def test_glsl_matches_torch(headless: HeadlessRenderer, frame: int, lod: int) -> None:
    rng = np.random.default_rng(100 * frame + lod)
    grids = synthetic_frame(CFG, frame, seed=1).at_lod(lod)
    for _ in range(2):
        cam = _random_camera(rng)
        bg = tuple(rng.uniform(0, 1, 3))
        img = headless.render(grids, cam, bg, key=(frame, lod))
        _check(img, torch_reference(grids, cam, bg), f"frame {frame} lod {lod}")


@pytest.mark.gl
@pytest.mark.parametrize(
    "options",
    [
        {"filtering": "manual", "weights": "buffer"},  # what real GPUs run
        {"filtering": "hardware", "weights": "constants", "precision": "f2"},
    ],
    ids=["manual-buffer", "half-floats"],
)
def test_other_paths_match_torch(options: dict) -> None:
    rng = np.random.default_rng(5)
    renderer = HeadlessRenderer(**options)
    try:
        for lod in (2, 4):
            grids = synthetic_frame(CFG, 2, seed=1).at_lod(lod)
            cam = _random_camera(rng)
            img = renderer.render(grids, cam, (0.3, 0.6, 0.1))
            _check(img, torch_reference(grids, cam, (0.3, 0.6, 0.1)), f"{options} lod {lod}")
    finally:
        renderer.release()


@pytest.mark.gl
@pytest.mark.parametrize("channels,hidden", [(5, (16,)), (4, (24, 20, 12))])
def test_other_field_shapes(headless: HeadlessRenderer, channels: int, hidden) -> None:
    """C not a multiple of 4 (padded texels) and other MLP depths and widths."""
    cfg = FieldConfig.nested(3, density_base=6, plane_base=6, channels=channels, hidden=hidden)
    grids = synthetic_frame(cfg, 1, seed=2)
    cam = _random_camera(np.random.default_rng(channels))
    img = headless.render(grids, cam, (1.0, 1.0, 1.0))
    _check(img, torch_reference(grids, cam, (1.0, 1.0, 1.0)), f"C={channels} hidden={hidden}")


@pytest.mark.gl
@pytest.mark.parametrize("lod", [1, 3])
def test_unnested_planes_and_step_floor(headless: HeadlessRenderer, lod: int) -> None:
    """The fast preset's ladder shape: plane lattices that do not nest, coarse LODs stepped finer."""
    cfg = FieldConfig(
        density_res=(5, 9, 17), plane_res=(13, 17, 29), channels=8, hidden=(16,),
        render=RenderParams(step_floor_res=13),
    ).validate()
    grids = synthetic_frame(cfg, 1, seed=3).at_lod(lod)
    rng = np.random.default_rng(40 + lod)
    for _ in range(2):
        cam = _random_camera(rng)
        img = headless.render(grids, cam, (0.9, 0.9, 0.9), key=("unnested", lod))
        _check(img, torch_reference(grids, cam, (0.9, 0.9, 0.9)), f"unnested lod {lod}")


@pytest.mark.gl
def test_lower_render_scale_and_other_size(headless: HeadlessRenderer) -> None:
    grids = synthetic_frame(CFG, 0, seed=1)
    cam = orbit_camera(30, 10, 3.0, width=64, height=48)
    full = headless.render(grids, cam, (0, 0, 0))
    half = headless.render(grids, cam, (0, 0, 0), scale=0.5)
    assert half.shape == full.shape
    # Upscaled half-resolution render: close to the full one, not identical.
    err = np.abs(half - full).mean()
    assert 0 < err < 0.05
    # Rendering at another size equals rendering the camera resized to that size.
    small = headless.render(grids, cam, (0, 0, 0), width=32, height=24)
    ref = torch_reference(grids, cam.with_size(32, 24), (0, 0, 0))
    assert masked_psnr(small, ref, ref[..., 3] > 0.01) >= PSNR_MIN


@pytest.mark.gl
def test_camera_outside_looking_away_gives_background(headless: HeadlessRenderer) -> None:
    grids = synthetic_frame(CFG, 0, seed=1)
    cam = orbit_camera(0, 0, 3.0, width=16, height=16)
    away = cam.with_pose(cam.c2w @ np.diag([-1.0, 1.0, -1.0, 1.0]))  # turned 180° about y
    img = headless.render(grids, away, (0.25, 0.5, 0.75))
    assert np.allclose(img[..., :3], (0.25, 0.5, 0.75)) and np.all(img[..., 3] == 0)
