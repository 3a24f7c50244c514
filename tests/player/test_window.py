"""The player window on a real .fcv under Xvfb: plays, live quality changes, keys, errors."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

pytestmark = pytest.mark.gui


def image_array(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h).reshape(h, -1)
    return arr[:, : 3 * w].reshape(h, w, 3).copy()


@pytest.fixture
def window(qtbot, isolated_settings):
    from app.player.window import PlayerWindow

    win = PlayerWindow(settings_file=isolated_settings)
    win.viewport.set_scale_mode(1.0)  # every pixel rendered: pictures comparable across frames
    qtbot.addWidget(win)
    win.resize(640, 480)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def _wait_drawn(win, qtbot, key_tail=None, timeout=20000) -> None:
    def ok() -> bool:
        key = win.viewport.shown_key
        return key is not None and win.viewport.painted > 0 and (key_tail is None or key[2:] == key_tail)

    qtbot.waitUntil(ok, timeout=timeout)


def damaged_copy(src: Path, dst: Path, *, where: str) -> Path:
    """A copy of ``src`` with one byte flipped in the header or in a level-2 frame chunk."""
    from codec.container.format import KIND_FRAME
    from codec.container.reader import FcvFile

    data = bytearray(src.read_bytes())
    if where == "header":
        data[20] ^= 0xFF
    else:
        f = FcvFile(bytes(data))
        key = next(k for k in f.index if k.kind == KIND_FRAME and k.frame == 5 and k.level == 1 and k.track == 1)
        e = f.index[key]
        data[e.offset + e.length // 2] ^= 0x5A
        assert zlib.crc32(bytes(data[e.offset : e.offset + e.length])) != e.crc32
    dst.write_bytes(bytes(data))
    return dst


def test_opens_plays_and_the_quality_slider_changes_the_picture(window, qtbot, tiny_fcv) -> None:
    assert window.open_path(tiny_fcv)
    _wait_drawn(window, qtbot)
    start = window.clock.frame()
    qtbot.waitUntil(lambda: window.clock.frame() != start, timeout=20000)
    qtbot.waitUntil(lambda: window.viewport.shown_key[1] != 0 or window.clock.shown > 2, timeout=20000)
    assert window.viewport.gl_error is None
    top = window.model.current
    before = image_array(window.viewport.screenshot())
    assert before.std() > 5, "viewport is blank"
    # Move the slider during playback to the lowest point of another track.
    low = window.model.index_of(1 - top.track, 1)
    window.quality.slider.setValue(low)
    assert window.model.index == low
    assert window.rd_plot.highlighted_index() == low
    _wait_drawn(window, qtbot, key_tail=(1 - top.track, 1))
    qtbot.wait(50)
    window.update_status()
    text = window.status_label.text()
    assert f"track {1 - top.track} level 1" in text
    assert f"{window.model.current.kb_per_frame:.1f} KB/frame" in text
    assert window.engine.last_catchup_s is not None
    # Compare the same frame at both points while paused (motion must not explain the change).
    window.pause()
    window.seek(3)
    _wait_drawn(window, qtbot, key_tail=(1 - top.track, 1))
    qtbot.waitUntil(lambda: window.viewport.shown_key[1] == 3, timeout=20000)
    qtbot.wait(50)
    low_img = image_array(window.viewport.screenshot())
    window.select_point(window.model.index_of(top.track, top.level))
    _wait_drawn(window, qtbot, key_tail=top.key)
    qtbot.wait(50)
    high_img = image_array(window.viewport.screenshot())
    obj = (np.abs(high_img.astype(int) - 255) > 8).any(-1)  # the object's pixels (background white)
    assert obj.sum() > 200
    assert np.abs(low_img.astype(int) - high_img.astype(int))[obj].mean() > 2.0


def test_keys_control_playback_quality_and_view(window, qtbot, tiny_fcv) -> None:
    window.open_path(tiny_fcv)
    window.pause()
    window.seek(0)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=20000)
    vp = window.viewport
    vp.setFocus()
    qtbot.keyClick(vp, Qt.Key.Key_Right)
    assert window.clock.frame() == 1
    qtbot.keyClick(vp, Qt.Key.Key_Left)
    assert window.clock.frame() == 0
    qtbot.keyClick(vp, Qt.Key.Key_End)
    assert window.clock.frame() == window.clock.frame_count - 1
    qtbot.keyClick(vp, Qt.Key.Key_Home)
    assert window.clock.frame() == 0
    start = window.model.index
    qtbot.keyClick(vp, Qt.Key.Key_BracketLeft)
    assert window.model.index == start - 1
    qtbot.keyClick(vp, Qt.Key.Key_BracketRight)
    assert window.model.index == start
    qtbot.keyClick(vp, Qt.Key.Key_Space)
    assert window.clock.playing
    qtbot.keyClick(vp, Qt.Key.Key_Space)
    assert not window.clock.playing
    # Mouse orbit changes the picture; R puts the camera back.
    frame = window.clock.frame()
    qtbot.waitUntil(lambda: window.viewport.shown_key is not None and window.viewport.shown_key[1] == frame, timeout=20000)
    qtbot.wait(100)
    home = image_array(vp.screenshot())
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=vp.rect().center())
    qtbot.mouseMove(vp, vp.rect().center() + vp.rect().topLeft() + QPointF(80, 30).toPoint())
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton)
    assert vp.orbit.azimuth != 30.0
    qtbot.wait(50)
    assert np.abs(image_array(vp.screenshot()).astype(int) - home.astype(int)).max() > 20
    qtbot.keyClick(vp, Qt.Key.Key_R)
    assert vp.orbit.azimuth == 30.0
    qtbot.wait(50)
    assert np.abs(image_array(vp.screenshot()).astype(int) - home.astype(int)).max() <= 2
    qtbot.keyClick(vp, Qt.Key.Key_F)
    qtbot.waitUntil(window.isFullScreen, timeout=3000)
    qtbot.keyClick(vp, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=3000)


def test_damaged_file_shows_error_and_current_clip_keeps_playing(window, qtbot, tiny_fcv, tmp_path) -> None:
    window.open_path(tiny_fcv)
    _wait_drawn(window, qtbot)
    bad = damaged_copy(tiny_fcv, tmp_path / "bad.fcv", where="header")
    assert not window.open_path(bad)
    box = window.error_box
    assert box is not None and box.isVisible()
    assert "bad.fcv" in box.text() and "CRC" in box.text()
    assert window.source.info.path == tiny_fcv
    shown = window.clock.shown
    qtbot.waitUntil(lambda: window.clock.shown > shown + 2, timeout=20000)
    box.close()  # auto-dismiss
    assert not window.open_path(tmp_path / "missing.fcv")
    assert "no such file" in window.last_error
    window.error_box.close()


def test_damaged_chunk_plays_with_a_warning(window, qtbot, tiny_fcv, tmp_path) -> None:
    bad = damaged_copy(tiny_fcv, tmp_path / "chunk.fcv", where="chunk")
    assert window.open_path(bad)
    qtbot.waitUntil(lambda: window.last_warning is not None, timeout=20000)
    assert "damaged" in window.last_warning
    shown = window.clock.shown
    qtbot.waitUntil(lambda: window.clock.shown > shown + 8, timeout=20000)  # looped past it


def test_recent_files_drop_and_layout_are_remembered(qtbot, isolated_settings, tiny_fcv) -> None:
    from app.player.window import PlayerWindow

    win = PlayerWindow(settings_file=isolated_settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_fcv))])
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    win.dropEvent(drop)
    assert win.source is not None and win.source.info.path == tiny_fcv
    assert win.recent_files()[0] == str(tiny_fcv.resolve())
    assert [a.text() for a in win.recent_menu.actions()] == [str(tiny_fcv.resolve())]
    win.docks["rd"].hide()
    win.resize(700, 500)
    win.close()
    win2 = PlayerWindow(settings_file=isolated_settings)
    qtbot.addWidget(win2)
    win2.show()
    qtbot.waitExposed(win2)
    assert not win2.docks["rd"].isVisible()
    assert win2.recent_files()[0] == str(tiny_fcv.resolve())
    assert win2.size().width() == 700
    win2.close()


def test_snapped_view_matches_the_offline_render(window, qtbot, tiny_fcv) -> None:
    """grabFramebuffer of a capture camera == the torch reference render (PSNR >= 40 dB)."""
    import torch

    from codec.decode.decoder import Decoder
    from codec.render.torch_renderer import render_frame

    window.open_path(tiny_fcv)
    window.pause()
    window.select_point(window.model.index_of(1, 3))
    window.seek(2)
    vp = window.viewport
    vp.setFixedSize(256, 192)  # the capture camera's 4:3 aspect, 4x its size
    cam = window.source.info.cameras[1]
    vp.snap_to(cam)
    qtbot.waitUntil(lambda: vp.shown_key is not None and vp.shown_key[1:] == (2, 1, 3), timeout=20000)
    qtbot.waitUntil(lambda: vp.width() == 256 and vp.height() == 192, timeout=5000)
    painted = vp.painted
    vp.update()
    qtbot.waitUntil(lambda: vp.painted > painted, timeout=20000)
    got = image_array(vp.screenshot()).astype(np.float64) / 255.0
    assert got.shape == (192, 256, 3)

    dec = Decoder(tiny_fcv, "cpu")
    ref_cam = cam.scaled(4.0)
    origins, dirs = ref_cam.rays()
    out = render_frame(dec.frame(2, 1, 3), origins, dirs, torch.tensor(dec.header.background))
    ref = out.rgb.view(192, 256, 3).clamp(0, 1).numpy()
    mask = out.alpha.view(192, 256).numpy() > 0.01
    assert mask.sum() > 500
    mse = float(((got - ref) ** 2)[mask].mean())
    psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
    print(f"snapped view vs torch reference: PSNR {psnr:.2f} dB over {int(mask.sum())} px")
    assert psnr >= 40.0, psnr


def _click_plot(qtbot, plot, x: float, y: float) -> None:
    scene_pos = plot.plotItem.vb.mapViewToScene(QPointF(x, y))
    pos = plot.mapFromScene(scene_pos)
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_clicks_on_plots_select_points_and_seek(window, qtbot, tiny_fcv) -> None:
    window.open_path(tiny_fcv)
    window.pause()
    window.resize(1000, 700)
    qtbot.wait(300)
    target = window.model.points[1]
    _click_plot(qtbot, window.rd_plot, target.kb_per_frame, target.psnr)
    assert window.model.index == 1
    assert window.rd_plot.highlighted_index() == 1
    ymax = window.bitrate_plot.plotItem.vb.viewRange()[1][1]
    _click_plot(qtbot, window.bitrate_plot, 5.0, ymax * 0.5)
    assert window.clock.frame() == 5


def test_auto_quality_follows_measured_costs(window, qtbot, tiny_fcv) -> None:
    window.open_path(tiny_fcv)
    window.quality.auto_box.setChecked(True)
    window.auto.hold_s = 0.0
    window.auto.target_fps = 10.0
    budget = window.auto.budget_ms()
    window.costs.render_ms = {1: budget * 0.5, 2: budget * 2, 3: budget * 4}
    window.costs.smoothing = 1.0
    window.viewport.rendered.disconnect(window._on_rendered)  # keep the planted costs
    window._drain_events = lambda: None
    window.costs.decode_ms.clear()
    window.update_status()
    assert window.model.current.level == 1
    assert window.engine.target == window.model.current
    window.quality.slider.setValue(len(window.model) - 1)  # a manual choice ends auto mode
    assert not window.quality.auto_box.isChecked()


def test_adaptive_render_scale_lowers_resolution_when_slow(window, qtbot, tiny_fcv) -> None:
    window.open_path(tiny_fcv)
    vp = window.viewport
    vp.set_scale_mode("adaptive")
    vp.target_ms = 0.01  # impossible budget: the scale must go down to its floor
    qtbot.waitUntil(lambda: vp.render_scale() <= 0.26, timeout=20000)
    qtbot.wait(50)
    img = image_array(vp.screenshot())
    assert img.shape[:2] == (vp.height(), vp.width())  # upscaled to the full widget
    assert img.std() > 5
    window.update_status()
    assert "@0.25" in window.status_label.text()
    vp.target_ms = 1e6  # plenty of time: back to full resolution
    qtbot.waitUntil(lambda: vp.render_scale() == 1.0, timeout=20000)


def test_snapped_view_matches_fieldcast_render(window, qtbot, tiny_fcv, tmp_path) -> None:
    """grabFramebuffer == `fieldcast render` (GLSL on headless EGL, its own process), >= 40 dB."""
    import subprocess
    import sys

    import imageio.v3 as iio

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "render", str(tiny_fcv), "--frames", "4:5", "--camera", "0",
         "--track", "0", "--level", "2", "--res", "256x192", "--alpha", "-o", str(tmp_path / "r")],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    window.open_path(tiny_fcv)
    window.pause()
    window.select_point(window.model.index_of(0, 2))
    window.seek(4)
    vp = window.viewport
    vp.setFixedSize(256, 192)
    vp.snap_to(window.source.info.cameras[0])
    qtbot.waitUntil(lambda: vp.shown_key is not None and vp.shown_key[1:] == (4, 0, 2), timeout=20000)
    qtbot.waitUntil(lambda: vp.width() == 256 and vp.height() == 192, timeout=5000)
    painted = vp.painted
    vp.update()
    qtbot.waitUntil(lambda: vp.painted > painted, timeout=20000)
    got = image_array(vp.screenshot()).astype(np.float64) / 255.0
    _out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    ref = iio.imread(next((tmp_path / "r").glob("*.png"))).astype(np.float64) / 255.0
    assert ref.shape == (192, 256, 4)
    mask = ref[..., 3] > 0.01
    assert mask.sum() > 500
    mse = float(((got - ref[..., :3]) ** 2)[mask].mean())
    psnr = 10 * np.log10(1.0 / max(mse, 1e-12))
    print(f"snapped view vs fieldcast render: PSNR {psnr:.2f} dB over {int(mask.sum())} px")
    assert psnr >= 40.0, psnr


def test_screenshot_saves_the_viewport(window, qtbot, tiny_fcv, tmp_path) -> None:
    import imageio.v3 as iio

    window.open_path(tiny_fcv)
    _wait_drawn(window, qtbot)
    out = tmp_path / "shot.png"
    assert window.save_screenshot(out)
    img = iio.imread(out)
    assert img.shape[:2] == (window.viewport.height(), window.viewport.width())
    assert img[..., :3].std() > 5
    assert not window.save_screenshot(tmp_path / "missing" / "x.png")
    assert "could not write" in window.last_error
    window.error_box.close()
