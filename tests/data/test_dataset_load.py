"""Dataset loading: round trips with the writer, the variants of the format, figure128."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from codec.data.cameras import orbit_camera
from codec.data.dataset import estimate_aabb, load_dataset


def test_write_then_load_round_trip(make_dataset):
    root, imgs, cams = make_dataset(frames=3, views=4, test_views=(1, 3))
    ds = load_dataset(root)
    assert ds.frame_ids == [0, 1, 2]
    assert ds.camera_names == ["cam00", "cam01", "cam02", "cam03"]
    assert ds.num_views == 4 and ds.num_frames == 3 and ds.resolution == (8, 6)
    assert ds.train_views == [0, 2] and ds.test_views == [1, 3]
    assert np.allclose(ds.aabb, [[-1, -1, -1], [1, 1, 1]])
    assert np.allclose(ds.background, [0.2, 0.4, 0.6])
    assert ds.fps == 5.0 and ds.times == {0: 0.0, 1: 0.2, 2: 0.4}
    for f in range(3):
        for v in range(4):
            assert np.array_equal(ds.image(f, v), imgs[f, v].astype(np.float32) / 255)
            cam = ds.camera(f, v)
            assert np.allclose(cam.c2w, cams[v].c2w) and cam.fx == pytest.approx(cams[v].fx)
            assert cam.name == cams[v].name
    t = ds.frame_tensor(1, [2, 0])
    assert t.shape == (2, 6, 8, 4) and t.dtype == torch.float32
    assert torch.equal(t[1], torch.from_numpy(imgs[1, 0].astype(np.float32) / 255))
    comp = ds.composite(0, 0)
    a = imgs[0, 0, ..., 3:] / 255
    assert np.allclose(comp, imgs[0, 0, ..., :3] / 255 * a + np.array([0.2, 0.4, 0.6]) * (1 - a), atol=1e-6)
    with pytest.raises(KeyError):
        ds.image(7, 0)
    with pytest.raises(KeyError):
        ds.camera(0, 4)


def test_written_json_hoists_shared_intrinsics(make_dataset):
    root, _, _ = make_dataset()
    meta = json.loads((root / "transforms.json").read_text())
    assert meta["w"] == 8 and meta["h"] == 6 and "fl_x" in meta
    assert "fl_x" not in meta["frames"][0]
    assert meta["test_filenames"] == ["images/cam01/0000.png", "images/cam01/0001.png"]


def test_lru_cache_is_bounded(make_dataset):
    root, _, _ = make_dataset(frames=2, views=3)
    ds = load_dataset(root, cache_size=2)
    for v in range(3):
        ds.image(0, v)
    assert len(ds._cache) == 2
    a = ds.image(0, 2)
    assert a is ds.image(0, 2)  # cached
    assert not a.flags.writeable


def test_downscale_averages_in_premultiplied_alpha(make_dataset):
    root, imgs, cams = make_dataset(width=8, height=6)
    ds = load_dataset(root, downscale=2)
    assert ds.resolution == (4, 3)
    cam = ds.camera(0, 0)
    assert cam.fx == pytest.approx(cams[0].fx / 2) and cam.cx == pytest.approx(cams[0].cx / 2)
    img = imgs[0, 0].astype(np.float64) / 255
    block = img[0:2, 2:4].reshape(4, 4)
    alpha = block[:, 3].mean()
    rgb = (block[:, :3] * block[:, 3:]).mean(0) / alpha
    assert np.allclose(ds.image(0, 0)[0, 1], [*rgb, alpha], atol=1e-6)


def test_split_overrides(make_dataset):
    root, _, _ = make_dataset(views=5, test_views=(1,))
    assert load_dataset(root, test_views=["cam03", "cam04"]).test_views == [3, 4]
    ds = load_dataset(root, test_every=2)
    assert ds.test_views == [0, 2, 4] and ds.train_views == [1, 3]


def _rewrite(root, fn):
    meta = json.loads((root / "transforms.json").read_text())
    fn(meta)
    (root / "transforms.json").write_text(json.dumps(meta))


def test_per_image_split_without_test_filenames(make_dataset):
    root, _, _ = make_dataset(views=3, test_views=(2,))
    _rewrite(root, lambda m: m.pop("test_filenames"))
    assert load_dataset(root).test_views == [2]

    def only_list(m):
        for e in m["frames"]:
            e.pop("split")
        m["test_filenames"] = ["./images/cam00/0001"]  # normalised, extension optional

    _rewrite(root, only_list)
    assert load_dataset(root).test_views == [0]


def test_time_only_and_parent_directory_names(make_dataset):
    root, imgs, _ = make_dataset(frames=3, views=2)

    def strip(m):
        m.pop("fps")
        for e in m["frames"]:
            e.pop("frame")
            e.pop("camera")

    _rewrite(root, strip)
    ds = load_dataset(root)
    assert ds.frame_ids == [0, 1, 2] and ds.camera_names == ["cam00", "cam01"]
    assert ds.fps == pytest.approx(5.0)  # from the time steps
    assert np.array_equal(ds.image(2, 1), imgs[2, 1] / np.float32(255))


def test_flat_layout_falls_back_to_pose_identity(tmp_path):
    rng = np.random.default_rng(0)
    entries = []
    for f in range(2):
        for v in range(3):
            name = f"img_{f}_{v}.png"
            iio.imwrite(tmp_path / name, rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))
            cam = orbit_camera(120 * v, 0, 3, width=5, height=4)
            entries.append({"file_path": name, "time": f * 0.5, "transform_matrix": cam.c2w.tolist()})
    meta = {"camera_angle_x": math.radians(60), "frames": entries}
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    ds = load_dataset(tmp_path / "transforms.json")
    assert ds.camera_names == ["view000", "view001", "view002"]
    assert ds.resolution == (5, 4)  # size from the image header
    assert ds.camera(1, 2).fx == pytest.approx(2.5 / math.tan(math.radians(30)))
    assert ds.image(0, 0)[..., 3].min() == 1.0  # RGB: opaque
    assert np.allclose(ds.background, 1.0) and ds.test_views == []
    box = ds.aabb  # estimated: around the origin the three cameras look at
    assert np.all(box[0] < 0) and np.all(box[1] > 0)


def test_rgb_plus_mask(tmp_path):
    rgb = np.full((4, 4, 3), 200, np.uint8)
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 255
    (tmp_path / "img").mkdir()
    iio.imwrite(tmp_path / "img" / "a.jpg", rgb)
    iio.imwrite(tmp_path / "img" / "a_mask.png", mask)
    cam = orbit_camera(0, 0, 3, width=4, height=4)
    entry = {"file_path": "img/a.jpg", "mask_path": "img/a_mask.png", **cam.to_json_entry()}
    (tmp_path / "transforms.json").write_text(json.dumps({"frames": [entry]}))
    ds = load_dataset(tmp_path)
    img = ds.image(0, 0)
    assert np.array_equal(img[..., 3], mask / np.float32(255))
    assert ds.frame_ids == [0] and ds.num_views == 1


def test_estimate_aabb_contains_what_all_cameras_see():
    cams = [orbit_camera(az, el, 3.0, fov_deg=40, width=32, height=32)
            for az in range(0, 360, 45) for el in (-10, 30)]
    box = estimate_aabb(cams)
    assert np.all(box[0] < -0.8) and np.all(box[1] > 0.8)
    assert np.all(box[0] > -1.6) and np.all(box[1] < 1.6)


def test_figure128_loads(figure128):
    ds = load_dataset(figure128)
    assert ds.frame_ids == list(range(10))
    assert ds.num_views == 24 and ds.camera_names == [f"cam{i:02d}" for i in range(24)]
    test = ["cam01", "cam06", "cam10", "cam13", "cam19", "cam22"]
    assert [ds.camera_names[v] for v in ds.test_views] == test
    assert len(ds.train_views) == 18 and not set(ds.train_views) & set(ds.test_views)
    assert ds.resolution == (128, 128)
    assert np.allclose(ds.aabb, [[-1, -1, -1], [1, 1, 1]])
    assert np.allclose(ds.background, [1, 1, 1])
    assert ds.fps == 10.0 and ds.times[9] == pytest.approx(0.9)
    centre = ds.aabb.mean(axis=0)[None]
    for f in (0, 9):
        for v in range(ds.num_views):
            cam = ds.camera(f, v)
            px, depth = cam.project(centre)
            assert depth[0] > 0
            assert 0 < px[0, 0] < cam.width and 0 < px[0, 1] < cam.height
            # these inward-looking cameras aim at (0, 0.05, 0): the centre sits just below
            assert abs(px[0, 0] - cam.cx) < 0.5 and 0 < px[0, 1] - cam.cy < 4
    # cam00 is an orbit camera at azimuth 0, -10 deg elevation, radius 3.2, 40 deg fov
    ref = orbit_camera(0, -10, 3.2, fov_deg=40, width=128, height=128, target=(0, 0.05, 0))
    assert np.allclose(ds.camera(0, 0).c2w, ref.c2w, atol=1e-6)
    assert ds.camera(0, 0).fx == pytest.approx(ref.fx)
    img = ds.image(4, 3)
    assert img.shape == (128, 128, 4) and 0.02 < img[..., 3].mean() < 0.9
