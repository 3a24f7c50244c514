"""`fieldcast bench render` runs end to end and reports every figure (tiny sizes; no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main


@pytest.mark.gl
def test_bench_render_synthetic_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "render.json"
    assert main(["bench", "render", "--synthetic", "--sizes", "24", "--lods", "1,2",
                 "--repeat", "1", "--json", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert [(r["size"], r["lod"]) for r in result["results"]] == [(24, 1), (24, 2)]
    for row in result["results"]:
        assert row["glsl_ms"] > 0 and row["torch_ms"] > 0 and row["speedup"] > 0
        assert row["psnr_rgb_db"] >= 45 and row["psnr_alpha_db"] >= 45
