"""pyqtgraph plots: the rate-distortion ladder and the per-frame bitrate with the playhead."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from .state import OperatingPointModel

LEVEL_SYMBOLS = ["o", "s", "t", "d", "star", "p", "h", "+"]
TRACK_COLORS = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
    (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
]


def _psnr(value: float) -> float:
    return value if math.isfinite(value) else 0.0


class RDPlot(pg.PlotWidget):
    """Bitrate (KB/frame) vs PSNR: one curve per track, one marker shape per level.

    Clicking a marker emits ``pointClicked`` with the point's index in the model.
    """

    pointClicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setLabel("bottom", "KB / frame")
        self.setLabel("left", "PSNR (dB)")
        self.showGrid(x=True, y=True, alpha=0.3)
        self.addLegend(offset=(-5, 5), labelTextSize="8pt")
        self.setMenuEnabled(False)
        self._model: OperatingPointModel | None = None
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=None)
        self.scatter.sigClicked.connect(self._clicked)
        self.highlight = pg.ScatterPlotItem(
            size=22, pen=pg.mkPen((220, 0, 0), width=3), brush=pg.mkBrush(None)
        )
        self.highlight.setZValue(10)
        self.curves: list[pg.PlotDataItem] = []

    def set_model(self, model: OperatingPointModel) -> None:
        self._model = model
        self.clear()
        self.curves = []
        for ti, track in enumerate(model.tracks()):
            pts = model.by_track(track)
            color = TRACK_COLORS[ti % len(TRACK_COLORS)]
            curve = self.plot(
                [p.kb_per_frame for p in pts], [_psnr(p.psnr) for p in pts],
                pen=pg.mkPen(color, width=2), name=f"track {track}",
            )
            self.curves.append(curve)
        spots = []
        tracks = model.tracks()
        for i, p in enumerate(model.points):
            color = TRACK_COLORS[tracks.index(p.track) % len(TRACK_COLORS)]
            spots.append({
                "pos": (p.kb_per_frame, _psnr(p.psnr)),
                "data": i,
                "symbol": LEVEL_SYMBOLS[(p.level - 1) % len(LEVEL_SYMBOLS)],
                "brush": pg.mkBrush(*color),
                "pen": pg.mkPen("k"),
                "size": 11,
            })
        self.scatter.setData(spots)
        self.scatter.setToolTip(None)
        self.addItem(self.scatter)
        self.addItem(self.highlight)
        self.show_current()

    def show_current(self) -> None:
        if self._model is None:
            return
        p = self._model.current
        self.highlight.setData([p.kb_per_frame], [_psnr(p.psnr)])

    def highlighted_index(self) -> int | None:
        """Index of the highlighted point (for tests and the status line)."""
        if self._model is None:
            return None
        x, y = self.highlight.getData()
        for i, p in enumerate(self._model.points):
            if np.isclose(p.kb_per_frame, x[0]) and np.isclose(_psnr(p.psnr), y[0]):
                return i
        return None

    def _clicked(self, _item, points, *_ev) -> None:
        if len(points):
            self.pointClicked.emit(int(points[0].data()))


class BitratePlot(pg.PlotWidget):
    """Per-frame coded KB of the current operating point, GoF starts marked, a playhead line.

    Clicking anywhere seeks to the frame under the mouse (``frameClicked``).
    """

    frameClicked = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="w")
        self.setLabel("bottom", "frame")
        self.setLabel("left", "KB")
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=(90, 140, 200))
        self.addItem(self.bars)
        self.playhead = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((220, 0, 0), width=2))
        self.addItem(self.playhead)
        self.frames = 0
        self.scene().sigMouseClicked.connect(self._clicked)

    def set_bytes(self, per_frame: list[int] | None, frames: int, gof_starts: list[int]) -> None:
        self.frames = frames
        values = np.asarray(per_frame if per_frame else [0] * frames, dtype=np.float64) / 1024.0
        x = np.arange(len(values))
        brushes = [
            pg.mkBrush(220, 120, 30) if f in set(gof_starts) else pg.mkBrush(90, 140, 200) for f in x
        ]
        self.bars.setOpts(x=x, height=values, width=0.8, brushes=brushes)
        self.setXRange(-0.5, max(frames - 0.5, 0.5), padding=0)
        top = float(values.max()) if values.size else 1.0
        self.setYRange(0, max(top * 1.05, 1e-3), padding=0)

    def set_playhead(self, frame: int) -> None:
        self.playhead.setValue(frame)

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.frames == 0:
            return
        pos = self.plotItem.vb.mapSceneToView(event.scenePos())
        self.frameClicked.emit(int(np.clip(round(pos.x()), 0, self.frames - 1)))
