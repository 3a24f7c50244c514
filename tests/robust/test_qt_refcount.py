"""Qt bindings must not leak references to None: PySide6 6.12.0 under CPython 3.11 drops one
reference to None on every call of a method returning void (update(), setText(), ...), and the
interpreter aborts ("none_dealloc: deallocating None") once the count reaches zero: the player
died after ~750 frames of bench/long_playback.py. pyproject.toml excludes that release; this
test (in a child process, since a broken binding kills the process that calls it) keeps it out.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QSlider
app = QApplication([])
slider, label = QSlider(Qt.Orientation.Horizontal), QLabel()
calls = [slider.update, lambda: slider.setValue(3), lambda: label.setText("x"), slider.repaint]
before = sys.getrefcount(None)
for _ in range(500):
    for call in calls:
        call()
print(sys.getrefcount(None) - before)
"""


def test_void_qt_calls_do_not_drop_references_to_none() -> None:
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    drift = int(res.stdout.strip().splitlines()[-1])
    assert abs(drift) < 50, f"2,000 void Qt calls changed None's refcount by {drift}"
