"""Timeline: play/pause, step, loop, fps, a scrub slider with GoF marks, the frame counter."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QWidget,
)


class GofSlider(QSlider):
    """A horizontal frame slider that paints a tick at every GoF start (I-frame)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.gof_starts: list[int] = []
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if not self.gof_starts or self.maximum() <= self.minimum():
            return
        opt = QStyleOptionSlider()
        self.initStyleOption(opt)
        groove = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderGroove, self
        )
        handle = self.style().subControlRect(
            QStyle.ComplexControl.CC_Slider, opt, QStyle.SubControl.SC_SliderHandle, self
        )
        span = groove.width() - handle.width()
        painter = QPainter(self)
        painter.setPen(QPen(QColor(220, 120, 30), 2))
        for start in self.gof_starts:
            x = groove.left() + handle.width() / 2 + span * (start - self.minimum()) / (
                self.maximum() - self.minimum()
            )
            painter.drawLine(int(x), groove.bottom(), int(x), self.height() - 1)
        painter.end()


class Timeline(QWidget):
    playToggled = Signal()
    stepRequested = Signal(int)
    seekRequested = Signal(int)
    homeEndRequested = Signal(bool)  # True: end
    loopChanged = Signal(bool)
    fpsChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        style = self.style()
        self.home_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward), "First frame (Home)")
        self.back_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward), "Step back (←)")
        self.play_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay), "Play / pause (Space)")
        self.fwd_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward), "Step forward (→)")
        self.end_button = self._button(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward), "Last frame (End)")
        self._play_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.slider = GofSlider(self)
        self.slider.setToolTip("Scrub; orange ticks mark GoF starts (I-frames)")
        self.frame_label = QLabel("0 / 0")
        self.frame_label.setMinimumWidth(80)
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setChecked(True)
        self.loop_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(1.0, 120.0)
        self.fps_box.setDecimals(1)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setToolTip("Playback rate; also the target of auto quality")
        for w in (self.home_button, self.back_button, self.play_button, self.fwd_button, self.end_button):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.frame_label)
        row.addWidget(self.loop_box)
        row.addWidget(self.fps_box)
        self.home_button.clicked.connect(lambda: self.homeEndRequested.emit(False))
        self.end_button.clicked.connect(lambda: self.homeEndRequested.emit(True))
        self.back_button.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.fwd_button.clicked.connect(lambda: self.stepRequested.emit(1))
        self.play_button.clicked.connect(self.playToggled.emit)
        self.slider.valueChanged.connect(self.seekRequested.emit)
        self.loop_box.toggled.connect(self.loopChanged.emit)
        self.fps_box.valueChanged.connect(self.fpsChanged.emit)

    def _button(self, icon, tip: str) -> QToolButton:
        b = QToolButton(self)
        b.setIcon(icon)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return b

    def set_clip(self, frames: int, fps: float, gof_starts: list[int]) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, frames - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.gof_starts = gof_starts
        self.fps_box.blockSignals(True)
        self.fps_box.setValue(fps)
        self.fps_box.blockSignals(False)
        self.set_frame(0)
        self.slider.update()

    def set_frame(self, frame: int) -> None:
        if self.slider.value() != frame and not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(frame)
            self.slider.blockSignals(False)
        self.frame_label.setText(f"{frame + 1} / {self.slider.maximum() + 1}")

    def set_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self._pause_icon if playing else self._play_icon)
