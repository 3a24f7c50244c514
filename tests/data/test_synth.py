"""The synthetic scene: determinism, round trip through the dataset, motion, exactness."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from codec.data.cameras import orbit_camera
from codec.data.dataset import load_dataset, to_uint8
from codec.data.synth import (
    FrameRenderer,
    SynthConfig,
    SyntheticScene,
    dome_cameras,
    generate,
    render_frame,
    segment_opacity,
)
from codec.errors import FieldCastError

TINY = SynthConfig(frames=4, views=10, test_views=2, resolution=48, seed=0)


def test_tiny_dataset_loads(tiny_dataset):
    ds = load_dataset(tiny_dataset)
    assert ds.frame_ids == [0, 1, 2, 3] and ds.num_views == 10 and ds.resolution == (48, 48)
    assert len(ds.train_views) == 8 and ds.test_views == [8, 9]
    assert np.allclose(ds.aabb, [[-1, -1, -1], [1, 1, 1]]) and np.allclose(ds.background, 1)
    assert ds.fps == 10.0 and ds.times[3] == pytest.approx(0.3)
    for v in range(10):
        a = ds.image(0, v)[..., 3]
        assert 0.03 < a.mean() < 0.6  # the figure is in view and not filling it
        assert a[0].max() == 0 and a[:, 0].max() == 0  # and does not touch the border
    assert (tiny_dataset / "contact_sheet.png").is_file()
    sheet = iio.imread(tiny_dataset / "contact_sheet.png")
    assert sheet.ndim == 3 and sheet.shape[0] > 48 * 2 and sheet.shape[1] > 48 * 4


def test_reload_gives_the_same_arrays(tiny_dataset):
    scene = SyntheticScene(TINY.seed, TINY.blend)
    cams, _ = dome_cameras(TINY)
    ds = load_dataset(tiny_dataset)
    views = [0, 5, 9]
    rgba = render_frame(scene, TINY, [cams[v] for v in views], 2)
    for i, v in enumerate(views):
        assert np.array_equal(to_uint8(rgba[i]), np.round(ds.image(2, v) * 255).astype(np.uint8))
        assert np.allclose(ds.camera(2, v).c2w, cams[v].c2w)


def test_deterministic_per_seed():
    cfg = SynthConfig(resolution=24, views=3, test_views=1)
    cams, _ = dome_cameras(cfg)
    a = render_frame(SyntheticScene(3), cfg, cams, 1)
    b = render_frame(SyntheticScene(3), cfg, cams, 1)
    c = render_frame(SyntheticScene(4), cfg, cams, 1)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 0.1  # another seed, another palette


def test_test_cameras_are_not_training_cameras():
    cfg = SynthConfig(views=24, test_views=4)
    cams, test = dome_cameras(cfg)
    assert test == [20, 21, 22, 23] and len({c.name for c in cams}) == 24
    train_pos = np.stack([cams[v].position for v in range(20)])
    elev = np.degrees(np.arcsin((train_pos[:, 1] + 0.1) / cfg.radius))
    assert len(np.unique(np.round(elev))) == 3  # a dome of three rings
    for v in test:
        assert np.linalg.norm(train_pos - cams[v].position, axis=1).min() > 0.3


def test_large_motion_from_a_fixed_camera():
    cfg = SynthConfig(frames=10, resolution=64)
    scene = SyntheticScene(cfg.seed, cfg.blend)
    cams, _ = dome_cameras(cfg)
    cam = cams[0]
    masks = {f: render_frame(scene, cfg, [cam], f)[0, ..., 3] > 0.5 for f in (0, 1, 9)}

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    assert iou(masks[0], masks[9]) <= 0.85
    assert iou(masks[0], masks[1]) > 0.8  # yet smooth from one frame to the next


def test_object_stays_inside_the_box():
    scene = SyntheticScene(0)
    lin = torch.linspace(-1, 1, 41)
    a, b = torch.meshgrid(lin, lin, indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    one = torch.ones_like(a)
    faces = torch.cat([torch.stack(f, -1) for f in [
        (one, a, b), (-one, a, b), (a, one, b), (a, -one, b), (a, b, one), (a, b, -one)]])
    for t in np.linspace(0, 3, 16):
        pt = scene._pose_tensors(scene.pose(float(t)), torch.device("cpu"))
        d = scene.sdf(faces, pt)[0]
        assert d.min() > 0.1  # density there < 50 sigmoid(-0.1/0.012) ~ 1e-2 and falling


def test_segment_opacity_is_exact_for_a_plane():
    eps = 0.012
    s0 = torch.tensor([0.05, -0.02, 0.01, 0.3])
    s1 = torch.tensor([-0.03, 0.02, 0.01 + 1e-6, 0.2])
    length = torch.full((4,), 0.02)
    fine = torch.linspace(0, 1, 20001)[:, None]
    ref = torch.sigmoid(-(s0 + (s1 - s0) * fine) / eps).mean(0) * length
    assert torch.allclose(segment_opacity(s0, s1, length, eps), ref, rtol=1e-3, atol=1e-9)


def test_marcher_matches_brute_force_quadrature():
    """Empty-space skipping and adaptive steps change nothing visible: compare with a dense,
    uniform march (the SDF at every step, no skipping) over rays aimed at the figure."""
    cfg = SynthConfig()
    scene = SyntheticScene(0)
    cam = orbit_camera(30, 15, 3.2, target=(0, -0.1, 0), fov_deg=30, width=16, height=16)
    o, d = cam.rays()
    renderer = FrameRenderer(scene, cfg, 0.35, torch.device("cpu"))
    fast = renderer.render(o, d)

    dt = cfg.step
    ts = torch.arange(2.0, 4.6, dt)  # covers the box [-1, 1]^3 seen from 3.2 away
    pts = o[None] + ts[:, None, None] * d[None]  # (S, N, 3): every sample, no skipping
    s, part, ql = scene.sdf(pts.reshape(-1, 3), renderer.pt, details=True)
    s = s.view(len(ts), -1)
    seg = torch.full_like(s[1:], dt)
    alpha = 1 - torch.exp(-cfg.sigma_max * segment_opacity(s[:-1], s[1:], seg, cfg.eps))
    trans_before = torch.cumprod(torch.cat([torch.ones_like(alpha[:1]), 1 - alpha[:-1]]), dim=0)
    w = (trans_before * alpha).reshape(-1)  # weight of the segment ending at each sample
    n = o.shape[0]
    live = torch.nonzero(w > 1e-6).view(-1) + n  # segment k ends at sample k + 1
    rgb = scene.shade(part[live], ql[live], renderer.pt)
    colour = torch.zeros(n, 3).index_add_(0, live % n, w[live - n, None] * rgb)
    trans = torch.prod(1 - alpha, dim=0)
    ref_alpha = 1 - trans
    assert (ref_alpha > 0.5).float().mean() > 0.2  # the rays do see the figure
    assert torch.allclose(fast[:, 3], ref_alpha, atol=4e-3)
    solid = ref_alpha > 0.5
    ref_rgb = colour[solid] / ref_alpha[solid, None]
    err = (fast[solid, :3] - ref_rgb).abs()
    assert err.mean() < 5e-3 and err.max() < 0.06


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"frames": 0}, "--frames"),
        ({"views": 4, "test_views": 4}, "--test-views"),
        ({"resolution": 4}, "--res"),
    ],
)
def test_bad_settings(tmp_path, kw, match):
    with pytest.raises(FieldCastError, match=match):
        generate(tmp_path / "x", SynthConfig(**kw), progress=False)


def test_refuses_a_foreign_directory_and_replaces_its_own(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FieldCastError, match="not empty"):
        generate(tmp_path, SynthConfig(frames=1, views=2, test_views=1, resolution=8), progress=False)
    out = tmp_path / "ds"
    generate(out, SynthConfig(frames=2, views=3, test_views=1, resolution=8), progress=False)
    generate(out, SynthConfig(frames=1, views=2, test_views=1, resolution=8), progress=False)
    ds = load_dataset(out)
    assert ds.num_frames == 1 and ds.num_views == 2
    assert not (out / "images" / "cam02").exists()
