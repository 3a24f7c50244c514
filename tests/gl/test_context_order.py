"""Headless EGL and Qt's GLX coexist in one process in either order (see app/gl/context.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.gl.context import egl_context_current
from app.gl.headless import HeadlessRenderer
from app.gl.synthetic import synthetic_frame
from codec.data.cameras import orbit_camera
from codec.field.config import FieldConfig

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import moderngl
    from PySide6.QtCore import QTimer
    from PySide6.QtOpenGLWidgets import QOpenGLWidget
    from PySide6.QtWidgets import QApplication
    from app.gl.headless import HeadlessRenderer
    from app.gl.synthetic import synthetic_frame
    from codec.data.cameras import orbit_camera
    from codec.field.config import FieldConfig

    def headless_render():
        grids = synthetic_frame(FieldConfig.nested(2, 4, 4, channels=4, hidden=(8,)), 0)
        r = HeadlessRenderer()
        img = r.render(grids, orbit_camera(0, 0, 3.0, width=16, height=16), (0, 0, 0))
        r.release()
        assert img[..., 3].max() > 0.1

    class Widget(QOpenGLWidget):
        def initializeGL(self):
            self.ctx = moderngl.create_context()
        def paintGL(self):
            fbo = self.ctx.detect_framebuffer(self.defaultFramebufferObject())
            fbo.use()
            self.ctx.clear(1.0, 0.0, 0.0, 1.0)

    if sys.argv[1] == "egl-first":
        headless_render()
    app = QApplication([])
    w = Widget()
    w.resize(32, 32)
    w.show()
    QTimer.singleShot(300, app.quit)
    app.exec()
    if sys.argv[1] == "glx-first":
        w.makeCurrent()  # Qt's context current on this thread while EGL works
        headless_render()
        w.update()
        QTimer.singleShot(300, app.quit)
        app.exec()
    print(w.grabFramebuffer().pixelColor(5, 5).name())
    """
)


def test_headless_renderer_leaves_no_egl_context_current() -> None:
    grids = synthetic_frame(FieldConfig.nested(2, 4, 4, channels=4, hidden=(8,)), 0)
    renderer = HeadlessRenderer()
    renderer.render(grids, orbit_camera(0, 0, 3.0, width=8, height=8), (0, 0, 0))
    assert not egl_context_current()
    renderer.release()
    assert not egl_context_current()


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X server (scripts/test.sh)")
@pytest.mark.parametrize("order", ["egl-first", "glx-first"])
def test_qt_widget_works_beside_headless_egl(order: str) -> None:
    # Its own process: the point is what happens to a fresh process in this order.
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, order], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("#ff0000"), out.stdout + out.stderr[-2000:]
