"""Bad datasets raise DatasetError naming the file and the field; nothing half-loaded."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from codec.data.dataset import load_dataset
from codec.errors import DatasetError


def _edit(root, fn):
    meta = json.loads((root / "transforms.json").read_text())
    fn(meta)
    (root / "transforms.json").write_text(json.dumps(meta))


def test_missing_dataset(tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere: no such dataset file"):
        load_dataset(tmp_path / "nowhere")


def test_missing_image(make_dataset):
    root, _, _ = make_dataset()
    (root / "images" / "cam02" / "0001.png").unlink()
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    msg = str(err.value)
    assert "transforms.json" in msg and "images/cam02/0001.png" in msg
    assert "'file_path'" in msg and "not found" in msg


def test_missing_mask(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m["frames"][0].update(mask_path="masks/none.png"))
    with pytest.raises(DatasetError, match=r"frames\[0\].*'mask_path': mask not found"):
        load_dataset(root)


def test_malformed_json(make_dataset):
    root, _, _ = make_dataset()
    text = (root / "transforms.json").read_text()
    (root / "transforms.json").write_text(text[: len(text) // 2])
    with pytest.raises(DatasetError, match=r"transforms\.json: malformed JSON: .* line \d+ column \d+"):
        load_dataset(root)


def test_json_without_frames(make_dataset):
    root, _, _ = make_dataset()
    (root / "transforms.json").write_text('{"fl_x": 3}')
    with pytest.raises(DatasetError, match=r"transforms\.json: field 'frames'"):
        load_dataset(root)


def test_non_finite_matrix(make_dataset):
    root, _, _ = make_dataset()
    text = (root / "transforms.json").read_text()
    meta = json.loads(text)
    meta["frames"][3]["transform_matrix"][1][3] = float("nan")  # json.dumps writes NaN
    (root / "transforms.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    msg = str(err.value)
    assert "frames[3]" in msg and "transform_matrix" in msg and "non-finite" in msg
    assert meta["frames"][3]["file_path"] in msg


def test_singular_matrix(make_dataset):
    root, _, _ = make_dataset()

    def flatten(m):
        for row in m["frames"][2]["transform_matrix"][:3]:
            row[2] = 0.0

    _edit(root, flatten)
    with pytest.raises(DatasetError, match=r"frames\[2\].*transform_matrix.*singular"):
        load_dataset(root)


def test_malformed_matrix(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m["frames"][1].update(transform_matrix=[[1, 0], [0, 1]]))
    with pytest.raises(DatasetError, match=r"frames\[1\].*transform_matrix.*4x4"):
        load_dataset(root)


def test_bad_intrinsics(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m.update(fl_x=-3.0, fl_y=-3.0))
    with pytest.raises(DatasetError, match=r"frames\[0\].*intrinsics.*positive"):
        load_dataset(root)


def test_mixed_sizes_within_a_camera(make_dataset):
    # Sizes from the image headers (no declared w/h): one image of cam01 is smaller.
    root, _, _ = make_dataset(frames=3, views=3, width=8, height=6)

    def drop_size(m):
        for k in ("w", "h", "cx", "cy"):
            m.pop(k)

    _edit(root, drop_size)
    iio.imwrite(root / "images" / "cam01" / "0002.png", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    msg = str(err.value)
    assert "images/cam01/0002.png" in msg and "camera 'cam01' has images of mixed sizes" in msg
    assert "4x3" in msg and "8x6" in msg


def test_image_size_disagrees_with_declared_size(make_dataset):
    root, _, _ = make_dataset(width=8, height=6)
    iio.imwrite(root / "images" / "cam00" / "0001.png", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DatasetError, match=r"images/cam00/0001\.png.*'w'/'h' says 8x6 but the image is 4x3"):
        load_dataset(root)


def test_frame_missing_a_camera(make_dataset):
    root, _, _ = make_dataset(frames=3, views=3)
    _edit(root, lambda m: m.update(frames=[e for e in m["frames"] if e["file_path"] != "images/cam02/0001.png"]))
    with pytest.raises(DatasetError, match=r"transforms\.json: field 'frames': frame 1 is missing camera 'cam02'"):
        load_dataset(root)


def test_duplicate_camera_in_a_frame(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m["frames"][1].update(camera="cam00"))
    with pytest.raises(DatasetError, match=r"frame 0 already has an image from camera 'cam00'"):
        load_dataset(root)


def test_undecodable_image(make_dataset):
    root, _, _ = make_dataset()
    (root / "images" / "cam00" / "0000.png").write_bytes(b"not an image at all")
    with pytest.raises(DatasetError, match=r"images/cam00/0000\.png: not a readable image"):
        load_dataset(root)


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("aabb", [[0, 0, 0], [1, -1, 1]], "'aabb'"),
        ("aabb", "box", "'aabb'"),
        ("background", [0, 2, 0], "'background'"),
        ("fps", 0, "'fps'"),
        ("test_filenames", "x", "'test_filenames'"),
    ],
)
def test_bad_top_level_fields(make_dataset, key, value, needle):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m.update({key: value}))
    with pytest.raises(DatasetError, match=needle):
        load_dataset(root)


@pytest.mark.parametrize(
    "key, value",
    [("frame", -1), ("frame", 1.5), ("time", "soon"), ("camera", 3), ("split", "maybe")],
)
def test_bad_entry_fields(make_dataset, key, value):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m["frames"][0].update({key: value}))
    with pytest.raises(DatasetError, match=rf"frames\[0\].*'{key}'"):
        load_dataset(root)


def test_partial_frame_indices(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m["frames"][4].pop("frame"))
    with pytest.raises(DatasetError, match=r"frames\[4\].*'frame' is missing \(other images have it\)"):
        load_dataset(root)


def test_lens_distortion_rejected(make_dataset):
    root, _, _ = make_dataset()
    _edit(root, lambda m: m.update(k1=0.1))
    with pytest.raises(DatasetError, match="'k1': lens distortion"):
        load_dataset(root)


def test_bad_split_arguments(make_dataset):
    root, _, _ = make_dataset(views=2)
    with pytest.raises(DatasetError, match="not cameras"):
        load_dataset(root, test_views=["camXX"])
    with pytest.raises(DatasetError, match="every camera is a test camera"):
        load_dataset(root, test_views=["cam00", "cam01"])
    with pytest.raises(DatasetError, match="downscale"):
        load_dataset(root, downscale=0)
