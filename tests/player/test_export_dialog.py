"""The export dialog: unwritable paths refused up front, progress, cancel, a real mp4 written."""

from __future__ import annotations

import numpy as np
import pytest

from app.player.export_dialog import ExportDialog
from app.player.fcv_source import open_fcv
from app.player.state import OperatingPointModel

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog(qtbot, tiny_fcv):
    info = open_fcv(tiny_fcv).info
    dlg = ExportDialog(info, OperatingPointModel(info.points))
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_unwritable_path_is_refused_before_rendering(dialog, tmp_path) -> None:
    dialog.output.setText(str(tmp_path / "missing" / "x.mp4"))
    assert not dialog.start()
    assert dialog.process is None
    assert "does not exist" in dialog.last_message


@pytest.mark.slow
def test_export_writes_mp4_with_progress(dialog, qtbot, tmp_path) -> None:
    import imageio.v3 as iio

    out = tmp_path / "dlg.mp4"
    dialog.output.setText(str(out))
    dialog.seconds.setValue(0.8)
    dialog.fps.setValue(10)
    dialog.width_box.setValue(48)
    dialog.height_box.setValue(32)
    seen = []
    dialog.progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.finished_export, timeout=240000) as blocker:
        assert dialog.start()
    assert blocker.args[0] is True, dialog.last_message
    frames = np.stack(list(iio.imiter(out)))
    assert frames.shape == (8, 32, 48, 3)
    assert max(seen) >= 8 or dialog.progress.value() == 1


@pytest.mark.slow
def test_cancel_leaves_nothing_behind(dialog, qtbot, tmp_path) -> None:
    out = tmp_path / "cancel.mp4"
    dialog.output.setText(str(out))
    dialog.seconds.setValue(60)
    dialog.width_box.setValue(64)
    dialog.height_box.setValue(64)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.progress.maximum() > 1 and dialog.progress.value() >= 1, timeout=240000)
    with qtbot.waitSignal(dialog.finished_export, timeout=60000) as blocker:
        dialog.cancel_or_close()
    assert blocker.args == [False, "cancelled"]
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
