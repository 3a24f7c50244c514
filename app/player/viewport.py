"""The GL viewport: a QOpenGLWidget that draws the current frame with the GLSL field renderer.

Mouse: left-drag orbits, right- or middle-drag pans, the wheel zooms. While the camera moves the
render scale drops (the renderer's quality governor) and comes back when the mouse is released.
"""

from __future__ import annotations

import time

import moderngl
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QWheelEvent
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QWidget

from app.gl.renderer import FieldRenderer
from app.gl.resources import PreparedFrame
from codec.field.grids import FrameGrids

from .orbit import OrbitController


class Viewport(QOpenGLWidget):
    """Shows `FrameGrids` from an `OrbitController` camera; reports render times."""

    rendered = Signal(float)  # render ms (upload + draw) of the last painted frame
    glFailed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.orbit = OrbitController.for_box((-1, -1, -1), (1, 1, 1))
        self.background: tuple[float, float, float] = (1.0, 1.0, 1.0)
        self.moving_scale = 0.5
        self.scale_mode: float | str = "adaptive"
        """Render scale: a fixed factor (1.0 = every pixel) or "adaptive", which lowers the
        resolution when a frame takes longer than ``target_ms`` and raises it back when there is
        room (the renderer upscales; the window's size never changes)."""
        self.target_ms = 40.0
        self.adaptive_scale = 1.0
        self.ctx: moderngl.Context | None = None
        self.renderer: FieldRenderer | None = None
        self.gl_error: str | None = None
        self._grids: FrameGrids | PreparedFrame | None = None
        self._key: object = None
        self._uploaded_key: object = None
        self._fbo: tuple[int, tuple[int, int], moderngl.Framebuffer] | None = None
        self._drag: tuple[Qt.MouseButton, QPointF] | None = None
        self.render_ms = 0.0
        self.upload_ms = 0.0
        self.painted = 0

    # ------------------------------------------------------------------ content
    def show_grids(self, grids: FrameGrids | PreparedFrame | None, key: object) -> None:
        """Draw ``grids`` (or a `PreparedFrame` built off the UI thread) from the next paint;
        ``key`` identifies it so showing it again uploads nothing."""
        self._grids = grids
        self._key = key
        self.update()

    def clear_content(self) -> None:
        self._grids = None
        self._key = self._uploaded_key = None
        self.update()

    @property
    def shown_key(self) -> object:
        return self._key

    def set_scene(self, aabb, background) -> None:
        self.orbit = OrbitController.for_box(aabb[0], aabb[1])
        self.background = tuple(float(c) for c in background)
        self.update()

    def reset_view(self) -> None:
        self.orbit.reset()
        self.update()

    def snap_to(self, camera) -> None:
        self.orbit.snap(camera)
        self.update()

    def screenshot(self) -> QImage:
        return self.grabFramebuffer()

    # ------------------------------------------------------------------ GL
    def initializeGL(self) -> None:  # noqa: N802 - Qt override
        try:
            self.ctx = moderngl.create_context()
            self.renderer = FieldRenderer(self.ctx)
        except Exception as exc:  # noqa: BLE001 - shown to the user, the rest of the UI works
            self.gl_error = f"OpenGL 4.3 is needed to draw clips: {exc}"
            self.renderer = None
            self.glFailed.emit(self.gl_error)

    def _framebuffer(self) -> moderngl.Framebuffer:
        assert self.ctx is not None
        fbo_id = int(self.defaultFramebufferObject())
        ratio = self.devicePixelRatioF()
        size = (max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        if self._fbo is None or self._fbo[0] != fbo_id or self._fbo[1] != size:
            # detect_framebuffer wraps Qt's FBO; never release it (Qt owns it).
            self._fbo = (fbo_id, size, self.ctx.detect_framebuffer(fbo_id))
        return self._fbo[2]

    def paintGL(self) -> None:  # noqa: N802 - Qt override
        if self.ctx is None:
            return
        fbo = self._framebuffer()
        fbo.use()
        # Qt shares this context with its own painting and may leave blending or depth testing on;
        # the field renderer writes final colours and needs both off.
        self.ctx.disable(moderngl.BLEND | moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        w, h = fbo.size
        if self.renderer is None or self._grids is None:
            self.ctx.viewport = (0, 0, w, h)
            fbo.clear(*self.background, 1.0)
            return
        start = time.perf_counter()
        if self._uploaded_key != self._key or self._key is None:
            self.renderer.set_frame(self._grids, self._key)
            self._uploaded_key = self._key
        uploaded = time.perf_counter()
        scale = self.render_scale()
        if self._drag is not None:
            scale = min(scale, self.moving_scale)
        camera = self.orbit.camera(w, h)
        # Opaque: the widget is composited with the window, the field's alpha must not leak.
        self.renderer.render(camera, self.background, fbo, scale=scale, opaque=True)
        self.ctx.finish()
        end = time.perf_counter()
        self.upload_ms = (uploaded - start) * 1e3
        self.render_ms = (end - start) * 1e3
        self.painted += 1
        if self.scale_mode == "adaptive" and self._drag is None:
            self._adapt(self.render_ms - self.upload_ms)
        self.rendered.emit(self.render_ms)

    def render_scale(self) -> float:
        if self.scale_mode == "adaptive":
            return self.adaptive_scale
        return float(self.scale_mode)

    def set_scale_mode(self, mode: float | str) -> None:
        self.scale_mode = mode
        self.adaptive_scale = 1.0
        self.update()

    def _adapt(self, draw_ms: float) -> None:
        # Render time scales with the pixel count, i.e. with scale²: aim just under the target.
        scale = self.adaptive_scale
        if draw_ms > self.target_ms and scale > 0.25:
            scale = max(0.25, scale * max(0.5, (0.9 * self.target_ms / draw_ms) ** 0.5))
        elif draw_ms < 0.5 * self.target_ms and scale < 1.0:
            scale = min(1.0, scale * 1.15)
        self.adaptive_scale = scale

    def release_gl(self) -> None:
        if self.renderer is not None and self.ctx is not None:
            self.makeCurrent()
            self.renderer.release()
            self.renderer = None
            self.doneCurrent()

    def gl_objects(self) -> int:
        return self.renderer.gl_objects() if self.renderer is not None else 0

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = (event.button(), event.position())
        self.setFocus()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is None:
            return
        button, last = self._drag
        delta = event.position() - last
        if button == Qt.MouseButton.LeftButton:
            self.orbit.orbit(delta.x(), delta.y())
        else:
            self.orbit.pan(delta.x(), delta.y(), self.height())
        self._drag = (button, event.position())
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.update()  # back to full render scale

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        self.orbit.zoom(event.angleDelta().y() / 120.0)
        self.update()
