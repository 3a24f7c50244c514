"""Cameras: conventions, round trips and known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec.data.cameras import (
    Camera,
    CameraError,
    look_at,
    orbit_camera,
    pixel_rays,
    random_ray_batch,
)


def _random_camera(rng: np.random.Generator, width: int = 40, height: int = 30) -> Camera:
    eye = rng.normal(size=3)
    eye = eye / np.linalg.norm(eye) * rng.uniform(2.0, 5.0)
    target = rng.normal(size=3) * 0.3
    return Camera(
        fx=rng.uniform(20, 80),
        fy=rng.uniform(20, 80),
        cx=width / 2 + rng.uniform(-3, 3),
        cy=height / 2 + rng.uniform(-3, 3),
        width=width,
        height=height,
        c2w=look_at(eye, target, (0, 1, 0)),
        name="r",
    )


def test_orbit_camera_known_case():
    cam = orbit_camera(0.0, 0.0, 3.0, fov_deg=90.0, width=64, height=48)
    assert np.allclose(cam.position, [0, 0, 3])
    assert np.allclose(cam.forward, [0, 0, -1])
    # vertical fov 90 deg -> f = h/2
    assert cam.fx == pytest.approx(24.0) and cam.fy == pytest.approx(24.0)
    px, depth = cam.project(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 2]]))
    assert np.allclose(px[0], [32, 24]) and depth[0] == pytest.approx(3.0)
    # x right, y up: +x lands right of centre, +y above it (smaller row)
    assert np.allclose(px[1], [32 + 24 / 3, 24])
    assert np.allclose(px[2], [32, 24 - 24 / 3])
    assert depth[3] == pytest.approx(1.0)


def test_orbit_positions_follow_azimuth_and_elevation():
    cam = orbit_camera(90.0, 30.0, 2.0, target=(0.5, 0, 0))
    el = math.radians(30)
    assert np.allclose(cam.position, [0.5 + 2 * math.cos(el), 2 * math.sin(el), 0], atol=1e-12)
    px, _ = cam.project(np.array([[0.5, 0, 0]]))
    assert np.allclose(px, [[cam.cx, cam.cy]])
    # straight overhead still gives a valid, orthonormal pose
    top = orbit_camera(10.0, 90.0, 2.0)
    r = top.c2w[:3, :3]
    assert np.allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.allclose(top.forward, [0, -1, 0])


def test_orbit_with_other_up_axis():
    cam = orbit_camera(0.0, 90.0, 2.0, up=(0, 0, 1))
    assert np.allclose(cam.position, [0, 0, 2])
    assert np.allclose(cam.forward, [0, 0, -1])


def test_project_unproject_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        cam = _random_camera(rng)
        pix = rng.uniform(0, [cam.width, cam.height], size=(50, 2))
        depth = rng.uniform(0.1, 10, size=50)
        pts = cam.unproject(pix, depth)
        pix2, depth2 = cam.project(pts)
        assert np.allclose(pix2, pix, atol=1e-9)
        assert np.allclose(depth2, depth, atol=1e-9)
        pts2 = cam.unproject(pix2, depth2)
        assert np.allclose(pts2, pts, atol=1e-9)


def test_point_behind_camera_has_negative_depth():
    cam = orbit_camera(0.0, 0.0, 3.0)
    _, depth = cam.project(np.array([[0, 0, 5.0]]))
    assert depth[0] == pytest.approx(-2.0)
    assert not cam.in_image(np.array([[0, 0, 5.0]]))[0]
    assert cam.in_image(np.array([[0, 0, 0.0]]))[0]


def test_rays_pass_through_pixel_centres_row_major():
    rng = np.random.default_rng(1)
    cam = _random_camera(rng, width=7, height=5)
    o, d = cam.rays(dtype=torch.float64)
    assert o.shape == (35, 3) and d.shape == (35, 3)
    assert torch.allclose(d.norm(dim=-1), torch.ones(35, dtype=torch.float64))
    assert torch.allclose(o, torch.from_numpy(cam.position).expand(35, 3))
    pts = (o + 2.5 * d).numpy()
    px, depth = cam.project(pts)
    rows, cols = np.divmod(np.arange(35), 7)  # row outer, column inner
    assert np.allclose(px[:, 0], cols + 0.5) and np.allclose(px[:, 1], rows + 0.5)
    assert np.all(depth > 0)


def test_rays_default_dtype_and_device():
    o, d = orbit_camera(0, 0, 3, width=4, height=4).rays()
    assert o.dtype == torch.float32 and d.dtype == torch.float32 and o.device.type == "cpu"


def test_centre_ray_of_odd_image_hits_target():
    cam = orbit_camera(33.0, 12.0, 4.0, target=(0.1, 0.2, -0.3), width=9, height=9)
    o, d = cam.rays(dtype=torch.float64)
    centre = 4 * 9 + 4
    t = 4.0
    assert np.allclose((o[centre] + t * d[centre]).numpy(), [0.1, 0.2, -0.3], atol=1e-9)


def test_opencv_round_trip_and_projection():
    rng = np.random.default_rng(2)
    cam = _random_camera(rng)
    K, w2c = cam.to_opencv()
    pts = rng.normal(size=(20, 3)) * 0.5
    pc = pts @ w2c[:3, :3].T + w2c[:3, 3]
    uvw = pc @ K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    px, depth = cam.project(pts)
    assert np.allclose(uv, px) and np.allclose(pc[:, 2], depth)  # OpenCV looks down +z
    back = Camera.from_opencv(K, w2c, cam.width, cam.height, name="b")
    assert np.allclose(back.c2w, cam.c2w) and np.allclose(back.K, cam.K) and back.name == "b"
    # 3x4 extrinsics are accepted too
    assert np.allclose(Camera.from_opencv(K, w2c[:3], cam.width, cam.height).c2w, cam.c2w)


def test_json_entry_round_trip_and_defaults():
    rng = np.random.default_rng(3)
    cam = _random_camera(rng)
    back = Camera.from_json_entry(cam.to_json_entry(), name="x")
    assert np.allclose(back.c2w, cam.c2w)
    assert (back.fx, back.fy, back.cx, back.cy, back.width, back.height) == (
        cam.fx, cam.fy, cam.cx, cam.cy, cam.width, cam.height,
    )
    # intrinsics from the top level; camera_angle_x instead of a focal length; centred default cx
    entry = {"transform_matrix": cam.c2w.tolist()}
    c2 = Camera.from_json_entry(entry, {"camera_angle_x": math.radians(90), "w": 100, "h": 50})
    assert c2.fx == pytest.approx(50.0) and c2.fy == pytest.approx(50.0)
    assert (c2.cx, c2.cy) == (50.0, 25.0)


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"w": 8, "h": 8, "fl_x": 5}, "transform_matrix"),
        ({"w": 8, "h": 8, "transform_matrix": np.eye(4).tolist()}, "fl_x"),
        ({"w": 8, "h": 8, "fl_x": "a", "transform_matrix": np.eye(4).tolist()}, "fl_x"),
        ({"w": 8, "h": 8, "fl_x": 5, "transform_matrix": [[1, 2], [3, 4]]}, "transform_matrix"),
        ({"w": 8, "h": 8, "fl_x": 5, "transform_matrix": [["a"] * 4] * 4}, "transform_matrix"),
    ],
)
def test_json_entry_errors_name_the_field(entry, field):
    with pytest.raises(CameraError, match=field):
        Camera.from_json_entry(entry)


def test_bad_poses_are_rejected():
    bad = np.eye(4)
    bad[0, 3] = np.nan
    with pytest.raises(CameraError, match="non-finite"):
        Camera(10, 10, 4, 4, 8, 8, bad)
    sing = np.eye(4)
    sing[:3, 2] = 0
    with pytest.raises(CameraError, match="singular"):
        Camera(10, 10, 4, 4, 8, 8, sing)
    with pytest.raises(CameraError, match="positive"):
        Camera(-1, 10, 4, 4, 8, 8, np.eye(4))


def test_c2w_is_read_only_copy():
    m = np.eye(4)
    cam = Camera(10, 10, 4, 4, 8, 8, m)
    m[0, 3] = 5
    assert cam.c2w[0, 3] == 0
    with pytest.raises(ValueError):
        cam.c2w[0, 3] = 1


def test_scaled_and_with_size_keep_the_view():
    cam = orbit_camera(20, 10, 3, width=64, height=48, fov_deg=50)
    pts = np.random.default_rng(4).normal(size=(10, 3)) * 0.4
    px, _ = cam.project(pts)
    half = cam.scaled(0.5)
    assert (half.width, half.height) == (32, 24)
    assert np.allclose(half.project(pts)[0], px * 0.5)
    wide = cam.with_size(128, 24)
    assert np.allclose(wide.project(pts)[0], px * [2.0, 0.5])
    # pixel centres map onto pixel centres' continuous positions (corner-aligned scaling)
    o, d = half.rays(dtype=torch.float64)
    pxh, _ = cam.project((o + d).numpy())
    assert np.allclose(pxh[0], [1.0, 1.0])  # centre of half-res pixel 0 = corner between 4 pixels


def test_random_ray_batch_matches_pixels():
    cams = [orbit_camera(a, 15, 3, width=6, height=5) for a in (0, 100, 200)]
    v, h, w = 3, 5, 6
    code = torch.arange(v * h * w, dtype=torch.float64).reshape(v, h, w, 1)
    images = torch.cat([code, code * 2, code * 3, torch.ones_like(code)], dim=-1)
    g = torch.Generator().manual_seed(0)
    o, d, rgba = random_ray_batch(cams, images, 500, g)
    assert o.shape == (500, 3) and d.shape == (500, 3) and rgba.shape == (500, 4)
    assert o.dtype == torch.float64
    idx = rgba[:, 0].long()
    assert torch.equal(rgba[:, 1], rgba[:, 0] * 2)
    view, rem = idx // (h * w), idx % (h * w)
    row, col = rem // w, rem % w
    for i in range(500):
        cam = cams[int(view[i])]
        px, depth = cam.project((o[i] + 1.7 * d[i]).numpy()[None])
        assert np.allclose(px[0], [int(col[i]) + 0.5, int(row[i]) + 0.5], atol=1e-9)
        assert depth[0] > 0
    # uniform over views; deterministic per generator seed
    counts = torch.bincount(view, minlength=3)
    assert counts.min() > 120
    o2, _, _ = random_ray_batch(cams, images, 500, torch.Generator().manual_seed(0))
    assert torch.equal(o, o2)


def test_pixel_rays_agree_with_camera_rays():
    cams = [orbit_camera(a, -10, 3, width=8, height=6) for a in (0, 45)]
    o, d = cams[1].rays()
    rows, cols = torch.meshgrid(torch.arange(6), torch.arange(8), indexing="ij")
    po, pd = pixel_rays(cams, torch.ones(48, dtype=torch.long), rows.reshape(-1), cols.reshape(-1))
    assert torch.allclose(o, po) and torch.allclose(d, pd, atol=1e-6)


def test_random_ray_batch_rejects_mismatched_images():
    cams = [orbit_camera(0, 0, 3, width=4, height=4)]
    with pytest.raises(ValueError):
        random_ray_batch(cams, torch.zeros(2, 4, 4, 4), 3, torch.Generator())
    with pytest.raises(ValueError):
        random_ray_batch(cams, torch.zeros(1, 5, 4, 4), 3, torch.Generator())
