"""Export dialog: turntable settings, progress bar, cancel.

The export runs as a child `fieldcast export` process: it renders on its own headless EGL
context, which must never share a process with Qt's GLX context, and the player keeps playing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from codec.errors import FieldCastError

from .clip import ClipInfo
from .state import OperatingPointModel

ROOT = Path(__file__).resolve().parents[2]
CODEC_CHOICES = [("H.264 (mp4)", "h264", ".mp4"), ("H.265 (mp4)", "h265", ".mp4"), ("GIF", "gif", ".gif")]


class ExportDialog(QDialog):
    finished_export = Signal(bool, str)  # success, message

    def __init__(self, info: ClipInfo, model: OperatingPointModel | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export turntable")
        self.info = info
        self.process: QProcess | None = None
        self.cancelled = False
        self.last_message = ""
        form = QFormLayout()
        self.seconds = self._spin(QDoubleSpinBox(), 0.2, 600.0, 6.0, " s")
        self.fps = self._spin(QDoubleSpinBox(), 1.0, 120.0, 25.0, " fps")
        self.width_box = self._spin(QSpinBox(), 16, 4096, 512, " px")
        self.height_box = self._spin(QSpinBox(), 16, 4096, 512, " px")
        res = QHBoxLayout()
        res.addWidget(self.width_box)
        res.addWidget(QLabel("×"))
        res.addWidget(self.height_box)
        self.elevation = self._spin(QDoubleSpinBox(), -89.0, 89.0, 20.0, "°")
        self.radius = self._spin(QDoubleSpinBox(), 0.0, 1e4, 0.0, "")
        self.radius.setSpecialValueText("auto (frame the box)")
        self.point = QComboBox()
        self.compare = QComboBox()
        self.compare.addItem("none", None)
        points = model.points if model is not None else info.points
        for p in points:
            self.point.addItem(p.label(), p.key)
            self.compare.addItem(p.label(), p.key)
        current = model.index if model is not None else len(points) - 1
        self.point.setCurrentIndex(current)
        self.codec = QComboBox()
        for label, value, _ in CODEC_CHOICES:
            self.codec.addItem(label, value)
        self.output = QLineEdit(str(Path.cwd() / f"{Path(info.name).stem}-turntable.mp4"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.output, 1)
        out_row.addWidget(browse)
        form.addRow("Duration", self.seconds)
        form.addRow("Frame rate", self.fps)
        form.addRow("Resolution", res)
        form.addRow("Elevation", self.elevation)
        form.addRow("Radius", self.radius)
        form.addRow("Operating point", self.point)
        form.addRow("Side by side with", self.compare)
        form.addRow("Format", self.codec)
        form.addRow("Output", out_row)
        self.codec.currentIndexChanged.connect(self._codec_changed)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel_or_close)
        col = QVBoxLayout(self)
        col.addLayout(form)
        col.addWidget(self.progress)
        col.addWidget(self.message)
        col.addWidget(self.buttons)

    @staticmethod
    def _spin(box, lo, hi, value, suffix):
        box.setRange(lo, hi)
        box.setValue(value)
        box.setSuffix(suffix)
        return box

    def _codec_changed(self) -> None:
        ext = CODEC_CHOICES[self.codec.currentIndex()][2]
        path = Path(self.output.text())
        self.output.setText(str(path.with_suffix(ext)))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.output.text(), "Video (*.mp4 *.gif)")
        if path:
            self.output.setText(path)

    def arguments(self) -> list[str]:
        track, level = self.point.currentData()
        args = [
            "-m", "app.cli", "export", str(self.info.path), "--turntable",
            "-o", self.output.text(), "--seconds", f"{self.seconds.value():g}",
            "--fps", f"{self.fps.value():g}",
            "--res", f"{self.width_box.value()}x{self.height_box.value()}",
            "--elevation", f"{self.elevation.value():g}",
            "--track", str(track), "--level", str(level),
            "--codec", self.codec.currentData(), "--progress-lines",
        ]
        if self.radius.value() > 0:
            args += ["--radius", f"{self.radius.value():g}"]
        if self.compare.currentData() is not None:
            args += ["--compare", *(str(v) for v in self.compare.currentData())]
        return args

    def start(self) -> bool:
        """Check the output, then start the export; False (with the reason shown) if it cannot."""
        from app.export.turntable import check_output

        try:
            check_output(Path(self.output.text()), self.codec.currentData())
            if self.codec.currentData() != "gif" and (self.width_box.value() % 2 or self.height_box.value() % 2):
                raise FieldCastError("mp4 needs an even width and height")
        except FieldCastError as exc:
            self._set_message(f"Cannot export: {exc}", error=True)
            return False
        self.cancelled = False
        self.process = QProcess(self)
        self.process.setWorkingDirectory(str(ROOT))
        self.process.setProgram(sys.executable)
        self.process.setArguments(self.arguments())
        self.process.readyReadStandardOutput.connect(self._read_progress)
        self.process.finished.connect(self._finished)
        self.progress.setRange(0, 0)  # busy until the first frame
        self.export_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._set_message("starting the renderer…")
        self.process.start()
        return True

    def _read_progress(self) -> None:
        assert self.process is not None
        while self.process.canReadLine():
            line = bytes(self.process.readLine()).decode(errors="replace").strip()
            parts = line.split()
            if len(parts) == 3 and parts[0] == "progress":
                done, total = int(parts[1]), int(parts[2])
                self.progress.setRange(0, total)
                self.progress.setValue(done)
                self._set_message(f"frame {done} of {total}")

    def _finished(self, code: int, _status) -> None:
        assert self.process is not None
        self._read_progress()
        err = bytes(self.process.readAllStandardError()).decode(errors="replace").strip()
        self.export_button.setEnabled(True)
        self.cancel_button.setText("Close")
        self.progress.setRange(0, 1)
        if self.cancelled:
            self.progress.setValue(0)
            self._set_message("Export cancelled; nothing was written.")
            self.finished_export.emit(False, "cancelled")
        elif code == 0:
            self.progress.setValue(1)
            self._set_message(f"Wrote {self.output.text()}")
            self.finished_export.emit(True, self.output.text())
        else:
            reason = err.splitlines()[-1] if err else f"exit code {code}"
            self._set_message(f"Export failed: {reason}", error=True)
            self.finished_export.emit(False, reason)
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def cancel_or_close(self) -> None:
        if self.running():
            self.cancelled = True
            self.process.terminate()  # the CLI turns SIGTERM into a clean cancel
        else:
            self.reject()

    def _set_message(self, text: str, error: bool = False) -> None:
        self.last_message = text
        self.message.setStyleSheet("color: #b00020" if error else "")
        self.message.setText(text)

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.running():
            self.cancelled = True
            self.process.terminate()
            self.process.waitForFinished(5000)
        super().closeEvent(event)
