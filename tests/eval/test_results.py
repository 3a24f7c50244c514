"""The BD summary and the table of an evaluation, from RD points."""

from __future__ import annotations

import json

import pytest

from codec.eval.bjontegaard import bd_rate
from codec.eval.results import RDPoint, VariantResult, markdown_table, summarize


def _variant(name: str, rates: list[float], psnrs: list[float], levels: int = 1) -> VariantResult:
    pts = []
    for r, (b, p) in enumerate(zip(rates, psnrs), start=1):
        for lv in range(1, levels + 1):
            scale = 0.5 ** (levels - lv)
            pts.append(
                RDPoint(
                    label=f"r{r}/l{lv}",
                    bytes_per_frame=b * scale,
                    psnr_test=p - 2.0 * (levels - lv),
                    ssim_test=0.9,
                    track=r,
                    level=lv,
                    full_lod=lv == levels,
                )
            )
    return VariantResult(name, name, pts, steps={"key_steps": 10}, seeds=[0])


RATES = [1000.0, 2000.0, 4000.0, 8000.0]
PSNRS = [30.0, 32.0, 34.0, 36.0]


def test_summary_signs_and_values() -> None:
    variants = {
        "full": _variant("full", RATES, PSNRS, levels=4),
        "post_training_h265": _variant("post_training_h265", [r * 2 for r in RATES], PSNRS),
        "fixed_rate": _variant("fixed_rate", [r * 0.95 for r in RATES], PSNRS),
        "no_residual": _variant("no_residual", [r * 1.5 for r in RATES], PSNRS, levels=4),
    }
    s = summarize(variants)
    assert s["bd_rate_vs_post_training"] == pytest.approx(-50.0, abs=1e-9)
    assert s["bd_rate_vs_fixed_rate"] == pytest.approx(100 / 0.95 - 100, abs=1e-9)
    assert s["ablations"]["no_residual"] == pytest.approx(50.0, abs=1e-9)
    # The per-level curve of the largest track: same shift, so the same BD-rate.
    assert s["lod_ablations"]["no_residual"] == pytest.approx(50.0, abs=1e-9)
    assert s["bd_rate_vs_post_training"] == pytest.approx(
        bd_rate(*variants["post_training_h265"].curve(), *variants["full"].curve())
    )
    assert s["errors"] == {}
    json.dumps(s)  # JSON-ready


def test_summary_reports_reasons_instead_of_numbers() -> None:
    variants = {
        "full": _variant("full", RATES, PSNRS),
        "post_training_h265": _variant("post_training_h265", RATES[:3], PSNRS[:3]),
        "no_progressive": _variant("no_progressive", RATES, [p + 10 for p in PSNRS]),
    }
    s = summarize(variants)
    assert s["bd_rate_vs_post_training"] is None and "at least 4" in s["errors"]["post_training"]
    assert s["bd_rate_vs_fixed_rate"] is None and "not evaluated" in s["errors"]["fixed_rate"]
    assert s["ablations"]["no_progressive"] is None and "dB" in s["errors"]["no_progressive"]
    table = markdown_table(variants, s)
    assert "| FieldCast vs post-training H.265 | n/a | n/a |" in table
    assert "at least 4" in table


def test_round_trip_and_table_rows() -> None:
    v = _variant("full", RATES, PSNRS, levels=2)
    again = VariantResult.from_dict(json.loads(json.dumps(v.to_dict())))
    assert again == v
    table = markdown_table({"full": v}, summarize({"full": v}))
    assert table.count("| full | r") == 8
    assert "| full | key_steps=10 | 0 |" in table
    assert v.curve() == (RATES, PSNRS)
    assert v.lod_curve() == ([4000.0, 8000.0], [34.0, 36.0])
