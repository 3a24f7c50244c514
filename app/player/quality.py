"""Quality slider over the operating points (ordered by bitrate) plus the auto mode switch."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from .state import OperatingPointModel


class QualityPanel(QWidget):
    pointSelected = Signal(int)
    autoToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 2, 4, 2)
        top = QHBoxLayout()
        top.addWidget(QLabel("Quality"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(1)
        self.slider.setPageStep(1)
        self.slider.setToolTip("Operating points ordered by bitrate ([ and ] step down / up)")
        top.addWidget(self.slider, 1)
        self.auto_box = QCheckBox("Auto")
        self.auto_box.setToolTip("Play the highest point that keeps the target fps")
        self.auto_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.auto_box)
        col.addLayout(top)
        self.label = QLabel("—")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        col.addWidget(self.label)
        self.pending = QLabel("")
        self.pending.setStyleSheet("color: #b06000")
        col.addWidget(self.pending)
        self.slider.valueChanged.connect(self.pointSelected.emit)
        self.auto_box.toggled.connect(self.autoToggled.emit)

    def set_model(self, model: OperatingPointModel) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(model) - 1)
        self.slider.setValue(model.index)
        self.slider.blockSignals(False)
        self.show_point(model)

    def show_point(self, model: OperatingPointModel) -> None:
        if self.slider.value() != model.index:
            self.slider.blockSignals(True)
            self.slider.setValue(model.index)
            self.slider.blockSignals(False)
        self.label.setText(f"{model.index + 1}/{len(model)}: {model.current.label()}")

    def show_pending(self, text: str) -> None:
        self.pending.setText(text)
