"""`fieldcast eval`: argument errors and --replot from a stored results.json."""

from __future__ import annotations

import json

import imageio.v3 as iio

from app.cli import main
from codec.eval.results import RDPoint, VariantResult, summarize


def test_missing_dataset_is_one_line_error(tmp_path, capsys) -> None:
    assert main(["eval", str(tmp_path / "nope"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such dataset" in err[0]


def test_replot_without_results_is_an_error(tmp_path, capsys) -> None:
    assert main(["eval", str(tmp_path), "-o", str(tmp_path / "out"), "--replot"]) == 2
    assert "no results to replot" in capsys.readouterr().err


def test_replot_redraws_table_and_png(tmp_path) -> None:
    pts = [
        RDPoint(f"r{i}/l2", 1000.0 * 2**i, 30.0 + 2 * i, 0.9, track=i, level=2) for i in range(1, 5)
    ]
    full = VariantResult("full", "full", pts, {"key_steps": 5}, [0])
    h265 = VariantResult(
        "post_training_h265",
        "h265",
        [RDPoint(p.label, p.bytes_per_frame * 3, p.psnr_test, 0.9) for p in pts],
    )
    variants = {"full": full, "post_training_h265": h265}
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(
        json.dumps(
            {**summarize(variants), "variants": {k: v.to_dict() for k, v in variants.items()}}
        )
    )
    assert main(["eval", str(tmp_path), "-o", str(out), "--replot"]) == 0
    table = (out / "results.md").read_text()
    assert "| FieldCast vs post-training H.265 | -66.7 % |" in table
    assert iio.imread(out / "rd.png").ndim == 3
