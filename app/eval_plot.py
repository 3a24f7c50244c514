"""The RD plot PNG of `fieldcast eval`, drawn with pyqtgraph off screen (no matplotlib).

pyqtgraph is already a dependency of the player; its ImageExporter renders a scene without a
display under ``QT_QPA_PLATFORM=offscreen`` in about a second, and gives the same look as the
player's RD plot.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from codec.eval.results import VariantResult

# One colour and marker per method, stable across runs (the names of codec.eval.variants).
STYLE = {
    "full": ("#1f4fd1", "o", "FieldCast (one model)"),
    "post_training_h265": ("#d62728", "s", "post-training + H.265"),
    "fixed_rate": ("#2ca02c", "t", "fixed-rate models"),
    "no_residual": ("#9467bd", "d", "ablation: no residuals"),
    "no_progressive": ("#8c564b", "h", "ablation: no progressive"),
    "no_joint_rate": ("#ff7f0e", "star", "ablation: no joint rate"),
}
FALLBACK = [("#17becf", "p"), ("#7f7f7f", "x"), ("#bcbd22", "+")]


def _ensure_app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _nice_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks at 1, 2, 5 × 10^k KB (denser over a narrow range), placed in log10 space."""
    ticks = []
    decades = math.log10(hi / lo)
    mults = (
        (1, 2, 5) if decades > 1.5 else (1, 1.5, 2, 3, 4, 5, 7) if decades > 0.5 else range(1, 10)
    )
    for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in mults:
            v = m * 10.0**k
            if lo / 1.2 <= v <= hi * 1.2:
                ticks.append((math.log10(v), f"{v:g}"))
    return ticks


def draw_rd_plot(
    variants: dict[str, VariantResult], path: Path, title: str = "", size=(960, 640)
) -> Path:
    """PSNR (test views) over KB/frame (log axis): one curve per method, full-LOD points; the
    full method's lower-LOD points as hollow markers. Returns the PNG path."""
    _ensure_app()
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    widget = pg.GraphicsLayoutWidget()
    widget.resize(*size)
    plot = widget.addPlot(title=title or "Rate–distortion (test views)")
    plot.setLogMode(x=True, y=False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setLabel("bottom", "KB per frame (log)")
    plot.setLabel("left", "PSNR (dB)")
    plot.addLegend(offset=(-10, -10))  # bottom right: RD curves leave it empty

    all_kb: list[float] = []
    for i, (name, v) in enumerate(variants.items()):
        colour, symbol, label = STYLE.get(name, (*FALLBACK[i % len(FALLBACK)], name))
        rates, psnrs = v.curve()
        kb = [r / 1000 for r in rates]
        all_kb += kb
        pen = pg.mkPen(colour, width=2.5 if name == "full" else 1.8)
        if name == "full":
            lod = [p for p in v.points if not p.full_lod]
            if lod:
                lod_kb = [p.bytes_per_frame / 1000 for p in lod]
                all_kb += lod_kb
                plot.plot(
                    lod_kb, [p.psnr_test for p in lod], pen=None, symbol="o", symbolSize=6,
                    symbolPen=pg.mkPen(colour), symbolBrush=None, name="FieldCast lower LODs",
                )  # fmt: skip
        plot.plot(
            kb, psnrs, pen=pen, symbol=symbol, symbolSize=9, symbolPen=pg.mkPen(colour),
            symbolBrush=pg.mkBrush(colour), name=label,
        )  # fmt: skip
    positive = [k for k in all_kb if k > 0]
    if positive:
        plot.getAxis("bottom").setTicks([_nice_ticks(min(positive), max(positive))])

    widget.show()  # lays the scene out at `size` before it is exported
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = ImageExporter(widget.scene())
    exporter.parameters()["width"] = size[0]
    exporter.export(str(path))
    widget.close()
    return path
