"""Headless rendering: an EGL context bound only while rendering, float RGBA out as numpy."""

from __future__ import annotations

import moderngl
import numpy as np

from codec.field.grids import FrameGrids

from .camera import CameraLike
from .context import create_headless_context
from .renderer import FieldRenderer


class HeadlessRenderer:
    """A `FieldRenderer` on its own EGL context with a float framebuffer per output size.

    The context is current only inside each call, so Qt GL widgets created later on the same
    thread still work (see app/gl/context.py).
    """

    def __init__(self, ctx: moderngl.Context | None = None, **renderer_kw) -> None:
        self._own_ctx = ctx is None
        self.ctx = ctx or create_headless_context()
        self._target: tuple[tuple[int, int], moderngl.Texture, moderngl.Framebuffer] | None = None
        with self.ctx:
            self.renderer = FieldRenderer(self.ctx, **renderer_kw)

    def _fbo(self, w: int, h: int) -> moderngl.Framebuffer:
        if self._target is None or self._target[0] != (w, h):
            if self._target is not None:
                self._target[2].release()
                self._target[1].release()
            tex = self.ctx.texture((w, h), 4, dtype="f4")
            self._target = ((w, h), tex, self.ctx.framebuffer(color_attachments=[tex]))
        return self._target[2]

    def render(
        self,
        grids: FrameGrids,
        camera: CameraLike,
        background=(1.0, 1.0, 1.0),
        width: int | None = None,
        height: int | None = None,
        *,
        key: object = None,
        scale: float = 1.0,
    ) -> np.ndarray:
        """(H, W, 4) float32, rows top to bottom: RGB composited over `background`, alpha A.

        `key` identifies the frame (e.g. (frame, track, lod)): the same key as the previous call
        at this LOD skips the upload. The camera's own size unless width/height are given.
        """
        w, h = width or int(camera.width), height or int(camera.height)
        with self.ctx:
            self.renderer.set_frame(grids, key)
            fbo = self._fbo(w, h)
            self.renderer.render(camera, background, fbo, scale=scale)
            data = fbo.read(components=4, dtype="f4")
        return np.frombuffer(data, np.float32).reshape(h, w, 4)[::-1].copy()

    def gl_objects(self) -> int:
        return self.renderer.gl_objects() + (2 if self._target is not None else 0)

    def release(self) -> None:
        with self.ctx:
            self.renderer.release()
            if self._target is not None:
                self._target[2].release()
                self._target[1].release()
                self._target = None
        if self._own_ctx:
            self.ctx.release()


_default: HeadlessRenderer | None = None


def render_image(
    grids: FrameGrids,
    camera: CameraLike,
    background=(1.0, 1.0, 1.0),
    width: int | None = None,
    height: int | None = None,
) -> np.ndarray:
    """One-call headless render (H, W, 4) with a process-wide renderer created on first use."""
    global _default
    if _default is None:
        _default = HeadlessRenderer()
    return _default.render(grids, camera, background, width, height)
