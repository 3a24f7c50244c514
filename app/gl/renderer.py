"""`FieldRenderer`: renders a `FrameGrids` with GLSL into any moderngl framebuffer.

Works with a headless EGL context (tests, CLI, export) and inside a QOpenGLWidget
(`moderngl.create_context()` in initializeGL; pass `ctx.detect_framebuffer(
widget.defaultFramebufferObject())` to `render`). Output: RGB already composited over the
background (docs/RENDERING.md: A·c + (1 − A)·bg, so neither straight nor premultiplied colour),
alpha = A.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl
import numpy as np

from codec.field.grids import FrameGrids
from codec.field.occupancy import step_size

from .camera import CameraLike, c2w_matrix
from .program import MlpLayout, field_fragment_source, pack_mlp, shader_source
from .resources import FieldResources

FILTERING = ("auto", "manual", "hardware")


def software_rasterizer(ctx: moderngl.Context) -> bool:
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))


@dataclass
class FrameTiming:
    render_ms: float = 0.0
    upload_ms: float = 0.0


class FieldRenderer:
    """GLSL ray marcher for composed FieldCast LODs.

    ``filtering``: "manual" interpolates with texelFetch (exact on every GPU); "hardware" uses the
    texture unit's linear filter (exact in float on Mesa's llvmpipe, 8-bit weights on real GPUs);
    "auto" picks hardware on software rasterizers only. ``precision``: "f4" or "f2" textures.
    """

    def __init__(
        self, ctx: moderngl.Context, *, filtering: str = "auto", precision: str = "f4"
    ) -> None:
        if filtering not in FILTERING:
            raise ValueError(f"filtering must be one of {FILTERING}")
        if ctx.version_code < 430:
            raise RuntimeError(f"the field renderer needs OpenGL 4.3, got {ctx.version_code}")
        self.ctx = ctx
        self.hw_filter = filtering == "hardware" or (
            filtering == "auto" and software_rasterizer(ctx)
        )
        self.resources = FieldResources(ctx, precision=precision, filtering=self.hw_filter)
        self._programs: dict[MlpLayout, tuple[moderngl.Program, moderngl.VertexArray]] = {}
        self._mlp_buffer: moderngl.Buffer | None = None
        self._mlp_bytes: bytes = b""
        self._layout: MlpLayout | None = None
        self._grids: FrameGrids | None = None
        self._offscreen: tuple[tuple[int, int], moderngl.Texture, moderngl.Framebuffer] | None = None
        vert = shader_source("fullscreen.vert")
        self._upscale = ctx.program(vertex_shader=vert, fragment_shader=shader_source("upscale.frag"))
        self._upscale_vao = ctx.vertex_array(self._upscale, [])
        self.timing = FrameTiming()

    # -- frame state -----------------------------------------------------------------------
    def set_frame(self, grids: FrameGrids, key: object = None) -> None:
        """Upload `grids` (only what changed: same `key` as last time at this LOD = no upload)."""
        start = time.perf_counter()
        layout = MlpLayout.of(grids.mlp, grids.channels, grids.params.view_freqs)
        self._program_for(layout)
        self._layout = layout
        packed = pack_mlp(grids.mlp, layout).tobytes()
        if packed != self._mlp_bytes:
            if self._mlp_buffer is None or self._mlp_buffer.size != len(packed):
                if self._mlp_buffer is not None:
                    self._mlp_buffer.release()
                self._mlp_buffer = self.ctx.buffer(reserve=len(packed))
            self._mlp_buffer.write(packed)
            self._mlp_bytes = packed
        self.resources.upload(grids, key)
        self._grids = grids
        self.timing.upload_ms = (time.perf_counter() - start) * 1e3

    def _program_for(self, layout: MlpLayout) -> tuple[moderngl.Program, moderngl.VertexArray]:
        if layout not in self._programs:
            prog = self.ctx.program(
                vertex_shader=shader_source("fullscreen.vert"),
                fragment_shader=field_fragment_source(layout, self.hw_filter),
            )
            prog["u_density"] = 0
            prog["u_planes"] = 1
            prog["u_skip"] = 2
            self._programs[layout] = (prog, self.ctx.vertex_array(prog, []))
        return self._programs[layout]

    # -- drawing ---------------------------------------------------------------------------
    def render(
        self,
        camera: CameraLike,
        background,
        framebuffer: moderngl.Framebuffer,
        *,
        scale: float = 1.0,
        opaque: bool = False,
    ) -> None:
        """Draw into `framebuffer` (its full size). scale < 1 renders fewer rays and upscales."""
        if self._grids is None or self._layout is None:
            raise RuntimeError("set_frame() before render()")
        start = time.perf_counter()
        width, height = framebuffer.size
        if scale >= 1.0 and not opaque:
            self._draw_field(camera, background, framebuffer, width, height)
        else:
            lw, lh = max(1, round(width * scale)), max(1, round(height * scale))
            tex, fbo = self._offscreen_target(lw, lh)
            self._draw_field(camera, background, fbo, lw, lh)
            framebuffer.use()
            self.ctx.viewport = (0, 0, width, height)
            tex.use(0)
            self._upscale["u_image"] = 0
            self._upscale["u_target_size"] = (float(width), float(height))
            self._upscale["u_opaque"] = 1.0 if opaque else 0.0
            self._upscale_vao.render(moderngl.TRIANGLES, vertices=3)
        self.timing.render_ms = (time.perf_counter() - start) * 1e3

    def _offscreen_target(self, w: int, h: int) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        if self._offscreen is None or self._offscreen[0] != (w, h):
            if self._offscreen is not None:
                self._offscreen[2].release()
                self._offscreen[1].release()
            tex = self.ctx.texture((w, h), 4, dtype="f4")
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            tex.repeat_x = tex.repeat_y = False
            self._offscreen = ((w, h), tex, self.ctx.framebuffer(color_attachments=[tex]))
        return self._offscreen[1], self._offscreen[2]

    def _draw_field(self, camera, background, fbo: moderngl.Framebuffer, w: int, h: int) -> None:
        grids, tex = self._grids, self.resources.current
        assert grids is not None and tex is not None and self._layout is not None
        prog, vao = self._programs[self._layout]
        aabb = grids.aabb.detach().cpu().double().numpy()
        c2w = c2w_matrix(camera)
        prog["u_lo"] = tuple(float(v) for v in aabb[0])
        prog["u_hi"] = tuple(float(v) for v in aabb[1])
        prog["u_n"] = tex.n
        prog["u_m"] = tex.m
        prog["u_step"] = step_size(grids.aabb, tex.n, grids.params)
        prog["u_shift"] = float(grids.params.density_shift)
        prog["u_rot"] = tuple(float(v) for v in c2w[:3, :3].T.ravel())  # column-major
        prog["u_origin"] = tuple(float(v) for v in c2w[:3, 3])
        prog["u_intrinsics"] = (float(camera.fx), float(camera.fy), float(camera.cx), float(camera.cy))
        prog["u_pixel_scale"] = (camera.width / w, camera.height / h)
        prog["u_target_height"] = float(h)
        prog["u_background"] = tuple(float(v) for v in np.asarray(background, np.float64).ravel()[:3])
        tex.density.use(0)
        tex.planes.use(1)
        tex.skip.use(2)
        assert self._mlp_buffer is not None
        self._mlp_buffer.bind_to_storage_buffer(0)
        fbo.use()
        self.ctx.viewport = (0, 0, w, h)
        vao.render(moderngl.TRIANGLES, vertices=3)

    # -- bookkeeping -----------------------------------------------------------------------
    def gl_objects(self) -> int:
        """GL objects this renderer holds (constant once every LOD and size has been seen)."""
        count = self.resources.gl_objects() + 2 * len(self._programs) + 2
        count += self._mlp_buffer is not None
        count += 2 * (self._offscreen is not None)
        return count

    def release(self) -> None:
        self.resources.release()
        for prog, vao in self._programs.values():
            vao.release()
            prog.release()
        self._programs.clear()
        if self._mlp_buffer is not None:
            self._mlp_buffer.release()
            self._mlp_buffer = None
        if self._offscreen is not None:
            self._offscreen[2].release()
            self._offscreen[1].release()
            self._offscreen = None
        self._upscale_vao.release()
        self._upscale.release()
