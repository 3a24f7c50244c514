"""`fieldcast synth` and `fieldcast dataset-info` through the real CLI entry point."""

from __future__ import annotations

import json

import numpy as np

from app.cli import main
from codec.data.dataset import load_dataset


def test_synth_command_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(["synth", str(out), "--frames", "2", "--views", "3", "--test-views", "1",
                 "--res", "16", "--seed", "1", "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "2 frames x 3 views (2 train, 1 test) at 16x16" in text
    assert "contact_sheet.png" in text
    ds = load_dataset(out)
    assert ds.num_frames == 2 and ds.num_views == 3 and ds.test_views == [2]
    assert ds.image(1, 0)[..., 3].max() > 0.9


def test_synth_command_bad_option_is_one_line(tmp_path, capsys):
    code = main(["synth", str(tmp_path / "s"), "--views", "3", "--test-views", "3", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--test-views" in err[0]


def test_dataset_info_table_and_json(tiny_dataset, capsys):
    assert main(["dataset-info", str(tiny_dataset)]) == 0
    text = capsys.readouterr().out
    assert "frames      4 (ids 0-3" in text
    assert "resolution  48 x 48" in text
    assert "test        2: cam08 cam09" in text
    assert main(["dataset-info", str(tiny_dataset), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 4 and info["views"] == 10 and info["resolution"] == [48, 48]
    assert info["test_cameras"] == ["cam08", "cam09"] and len(info["train_cameras"]) == 8
    assert np.allclose(info["aabb"], [[-1, -1, -1], [1, 1, 1]]) and info["fps"] == 10.0


def test_dataset_info_figure128(figure128, capsys):
    assert main(["dataset-info", str(figure128), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 10 and info["views"] == 24 and info["resolution"] == [128, 128]
    assert info["test_cameras"] == ["cam01", "cam06", "cam10", "cam13", "cam19", "cam22"]


def test_dataset_info_broken_dataset_is_one_line(tmp_path, capsys):
    (tmp_path / "transforms.json").write_text('{"frames": [ {"file_path": "a.png", ')
    code = main(["dataset-info", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("fieldcast dataset-info: error: ")
    assert "transforms.json: malformed JSON" in err[0]


def test_dataset_info_missing_image_is_one_line(tiny_dataset, tmp_path, capsys):
    meta = json.loads((tiny_dataset / "transforms.json").read_text())
    meta["frames"][0]["file_path"] = "images/nope/0000.png"
    (tmp_path / "transforms.json").write_text(json.dumps(meta))
    code = main(["dataset-info", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "frames[0] (images/nope/0000.png): field 'file_path': image not found" in err[0]
