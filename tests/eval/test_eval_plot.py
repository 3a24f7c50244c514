"""The RD plot PNG: drawn off screen by pyqtgraph, one coloured curve per method."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np

from app.eval_plot import STYLE, draw_rd_plot
from codec.eval.results import RDPoint, VariantResult


def _variant(name: str, scale: float) -> VariantResult:
    pts = [
        RDPoint(f"r{i}", 1000.0 * scale * 2**i, 30.0 + 2 * i, 0.9, track=i + 1, level=3)
        for i in range(4)
    ]
    pts.append(RDPoint("r4/l1", 900.0, 24.0, 0.8, track=4, level=1, full_lod=False))
    return VariantResult(name, name, pts)


def _has_colour(img: np.ndarray, hex_colour: str, tol: int = 40) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(img[..., :3].astype(int) - rgb).max(-1) < tol).sum() > 50)


def test_rd_plot_png(tmp_path) -> None:
    variants = {
        "full": _variant("full", 1.0),
        "post_training_h265": _variant("post_training_h265", 2.0),
    }
    path = draw_rd_plot(variants, tmp_path / "plots" / "rd.png", size=(640, 420))
    img = iio.imread(path)
    assert img.shape[:2] == (420, 640)
    assert _has_colour(img, STYLE["full"][0]) and _has_colour(img, STYLE["post_training_h265"][0])
    assert not _has_colour(img, STYLE["fixed_rate"][0])  # nothing drawn for a missing method
