"""`FieldRenderer`: renders a `FrameGrids` with GLSL into any moderngl framebuffer.

Works with a headless EGL context (tests, CLI, export) and inside a QOpenGLWidget
(`moderngl.create_context()` in initializeGL; pass `ctx.detect_framebuffer(
widget.defaultFramebufferObject())` to `render`). Output: RGB already composited over the
background (docs/RENDERING.md: A·c + (1 − A)·bg, so neither straight nor premultiplied colour),
alpha = A. Three passes: ray march (features, alpha, depth = hit) → MLP where hit → present.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import moderngl
import numpy as np

from codec.field.grids import FrameGrids
from codec.field.occupancy import step_size

from .camera import CameraLike, c2w_matrix
from .program import (
    WEIGHT_MODES,
    MlpLayout,
    field_fragment_source,
    mlp_fragment_source,
    pack_mlp,
    shader_source,
)
from .resources import FieldResources, PreparedFrame

FILTERING = ("auto", "manual", "hardware")
MARCH_UNITS = (0, 1, 2)
"""Texture units of the density, planes and skip map; pass-2 inputs follow."""


def software_rasterizer(ctx: moderngl.Context) -> bool:
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(name in renderer for name in ("llvmpipe", "softpipe", "swrast"))


@dataclass
class FrameTiming:
    render_ms: float = 0.0
    upload_ms: float = 0.0


class _Targets:
    """Intermediate images of one render size: features + alpha (pass 1), colour (pass 2)."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int], n_features: int):
        self.size = size
        self.features = [ctx.texture(size, 4, dtype="f4") for _ in range(n_features)]
        self.alpha = ctx.texture(size, 4, dtype="f4")
        self.depth = ctx.depth_renderbuffer(size)
        self.march = ctx.framebuffer([*self.features, self.alpha], self.depth)
        self.color = ctx.texture(size, 4, dtype="f4")
        self.color.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.color.repeat_x = self.color.repeat_y = False
        self.final = ctx.framebuffer([self.color], self.depth)
        for tex in (*self.features, self.alpha):
            tex.filter = (moderngl.NEAREST, moderngl.NEAREST)

    def objects(self) -> list:
        return [*self.features, self.alpha, self.depth, self.march, self.color, self.final]

    def release(self) -> None:
        for obj in reversed(self.objects()):
            obj.release()


class FieldRenderer:
    """GLSL ray marcher for composed FieldCast LODs.

    ``filtering``: "manual" interpolates with texelFetch (exact on every GPU); "hardware" uses the
    texture unit's linear filter (exact in float on Mesa's llvmpipe, 8-bit weights on real GPUs);
    "auto" picks hardware on software rasterizers only. ``precision``: "f4" or "f2" textures.
    ``weights``: "constants" bakes the GoF's MLP into the pass-2 program (fast on llvmpipe, one
    compile per GoF), "buffer" reads a storage buffer (one program per MLP shape); "auto" picks
    constants on software rasterizers only.
    """

    MAX_MLP_PROGRAMS = 4
    """MLP programs kept (LRU): GoFs revisited do not recompile, GL objects stay bounded."""

    def __init__(
        self,
        ctx: moderngl.Context,
        *,
        filtering: str = "auto",
        precision: str = "f4",
        weights: str = "auto",
    ) -> None:
        if filtering not in FILTERING:
            raise ValueError(f"filtering must be one of {FILTERING}")
        if weights not in (*WEIGHT_MODES, "auto"):
            raise ValueError(f"weights must be one of {WEIGHT_MODES} or 'auto'")
        if ctx.version_code < 430:
            raise RuntimeError(f"the field renderer needs OpenGL 4.3, got {ctx.version_code}")
        self.ctx = ctx
        soft = software_rasterizer(ctx)
        self.hw_filter = filtering == "hardware" or (filtering == "auto" and soft)
        self.baked_weights = weights == "constants" or (weights == "auto" and soft)
        self.resources = FieldResources(ctx, precision=precision, filtering=self.hw_filter)
        self._march: dict[int, tuple[moderngl.Program, moderngl.VertexArray]] = {}
        self._mlp: dict[object, tuple[moderngl.Program, moderngl.VertexArray]] = {}
        self._mlp_key: object = None
        self._mlp_buffer: moderngl.Buffer | None = None
        self._mlp_bytes: bytes = b""
        self._layout: MlpLayout | None = None
        self._grids: FrameGrids | None = None
        self._targets: _Targets | None = None
        self._present = ctx.program(
            vertex_shader=shader_source("fullscreen.vert"),
            fragment_shader=shader_source("upscale.frag"),
        )
        self._present_vao = ctx.vertex_array(self._present, [])
        self.timing = FrameTiming()

    # -- frame state -----------------------------------------------------------------------
    def set_frame(self, frame: FrameGrids | PreparedFrame, key: object = None) -> None:
        """Make a frame current. Same `key` as the last upload at this LOD: nothing is uploaded.

        `frame` is FrameGrids, or a `PreparedFrame` (app.gl.resources.prepare_frame) built on
        another thread so that only texture writes happen here.
        """
        start = time.perf_counter()
        grids = frame.grids if isinstance(frame, PreparedFrame) else frame
        layout = MlpLayout.of(grids.mlp, grids.channels, grids.params.view_freqs)
        max_buffers = int(self.ctx.info.get("GL_MAX_DRAW_BUFFERS", 8))
        if 3 * layout.c4 + 1 > max_buffers:
            raise ValueError(f"C={grids.channels} needs {3 * layout.c4 + 1} draw buffers")
        packed = pack_mlp(grids.mlp, layout)
        raw = packed.tobytes()
        self._layout = layout
        self._march_program(layout.c4)
        if self.baked_weights:
            self._mlp_key = (layout, raw)
            self._mlp_program(self._mlp_key, layout, packed)
        else:
            self._mlp_key = layout
            self._mlp_program(layout, layout, None)
            if raw != self._mlp_bytes:
                if self._mlp_buffer is None or self._mlp_buffer.size != len(raw):
                    if self._mlp_buffer is not None:
                        self._mlp_buffer.release()
                    self._mlp_buffer = self.ctx.buffer(reserve=len(raw))
                self._mlp_buffer.write(raw)
                self._mlp_bytes = raw
        self.resources.upload(frame, key)
        self._grids = grids
        self.timing.upload_ms = (time.perf_counter() - start) * 1e3

    def _march_program(self, c4: int) -> tuple[moderngl.Program, moderngl.VertexArray]:
        if c4 not in self._march:
            prog = self.ctx.program(
                vertex_shader=shader_source("fullscreen.vert"),
                fragment_shader=field_fragment_source(self.hw_filter, c4),
            )
            for name, unit in zip(("u_density", "u_planes", "u_skip"), MARCH_UNITS):
                prog[name] = unit
            self._march[c4] = (prog, self.ctx.vertex_array(prog, []))
        return self._march[c4]

    def _mlp_program(
        self, key: object, layout: MlpLayout, packed: np.ndarray | None
    ) -> tuple[moderngl.Program, moderngl.VertexArray]:
        if key in self._mlp:
            self._mlp[key] = self._mlp.pop(key)  # most recently used last
            return self._mlp[key]
        while len(self._mlp) >= self.MAX_MLP_PROGRAMS:
            old_prog, old_vao = self._mlp.pop(next(iter(self._mlp)))
            old_vao.release()
            old_prog.release()
        prog = self.ctx.program(
            vertex_shader=shader_source("fullscreen.vert"),
            fragment_shader=mlp_fragment_source(layout, packed),
        )
        n_feat = 3 * layout.c4
        base = len(MARCH_UNITS)
        prog["u_features"] = list(range(base, base + n_feat))
        prog["u_alpha"] = base + n_feat
        self._mlp[key] = (prog, self.ctx.vertex_array(prog, []))
        return self._mlp[key]

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
        """Draw into `framebuffer` (its full size); scale < 1 casts fewer rays and stretches."""
        if self._grids is None or self._layout is None:
            raise RuntimeError("set_frame() before render()")
        start = time.perf_counter()
        width, height = framebuffer.size
        lw, lh = max(1, round(width * min(scale, 1.0))), max(1, round(height * min(scale, 1.0)))
        targets = self._targets_for((lw, lh), 3 * self._layout.c4)
        bg = tuple(float(v) for v in np.asarray(background, np.float64).ravel()[:3])
        ctx = self.ctx
        ctx.disable(moderngl.BLEND | moderngl.CULL_FACE)
        ctx.enable(moderngl.DEPTH_TEST)

        # Pass 1: march; hit pixels get depth 0, misses keep 1.
        targets.march.use()
        targets.march.depth_mask = True
        ctx.viewport = (0, 0, lw, lh)
        targets.march.clear(depth=1.0)
        ctx.depth_func = "1"
        self._draw_march(camera, bg, lw, lh)

        # Pass 2: MLP where depth 0 (early depth test culls misses), over a (bg, 0) clear.
        targets.final.use()
        targets.final.depth_mask = False
        targets.final.clear(*bg, 0.0)
        ctx.depth_func = ">"
        self._draw_mlp(camera, bg, targets, lw, lh)
        ctx.disable(moderngl.DEPTH_TEST)

        # Pass 3: copy/stretch into the caller's framebuffer.
        framebuffer.use()
        ctx.viewport = (0, 0, width, height)
        targets.color.use(0)
        self._present["u_image"] = 0
        self._present["u_target_size"] = (float(width), float(height))
        self._present["u_opaque"] = 1.0 if opaque else 0.0
        self._present_vao.render(moderngl.TRIANGLES, vertices=3)
        self.timing.render_ms = (time.perf_counter() - start) * 1e3

    def _targets_for(self, size: tuple[int, int], n_features: int) -> _Targets:
        t = self._targets
        if t is None or t.size != size or len(t.features) != n_features:
            if t is not None:
                t.release()
            self._targets = _Targets(self.ctx, size, n_features)
        return self._targets

    def _camera_uniforms(self, prog: moderngl.Program, camera, w: int, h: int) -> None:
        c2w = c2w_matrix(camera)
        prog["u_rot"] = tuple(float(v) for v in c2w[:3, :3].T.ravel())  # column-major
        prog["u_intrinsics"] = (float(camera.fx), float(camera.fy), float(camera.cx), float(camera.cy))
        prog["u_pixel_scale"] = (camera.width / w, camera.height / h)
        prog["u_target_height"] = float(h)

    def _draw_march(self, camera, bg, w: int, h: int) -> None:
        grids, tex, layout = self._grids, self.resources.current, self._layout
        assert grids is not None and tex is not None and layout is not None
        prog, vao = self._march[layout.c4]
        aabb = grids.aabb.detach().cpu().double().numpy()
        prog["u_lo"] = tuple(float(v) for v in aabb[0])
        prog["u_hi"] = tuple(float(v) for v in aabb[1])
        prog["u_n"] = tex.n
        prog["u_m"] = tex.m
        prog["u_step"] = step_size(grids.aabb, tex.n, grids.params)
        prog["u_shift"] = float(grids.params.density_shift)
        prog["u_origin"] = tuple(float(v) for v in c2w_matrix(camera)[:3, 3])
        self._camera_uniforms(prog, camera, w, h)
        tex.density.use(MARCH_UNITS[0])
        tex.planes.use(MARCH_UNITS[1])
        tex.skip.use(MARCH_UNITS[2])
        vao.render(moderngl.TRIANGLES, vertices=3)

    def _draw_mlp(self, camera, bg, targets: _Targets, w: int, h: int) -> None:
        prog, vao = self._mlp[self._mlp_key]
        self._camera_uniforms(prog, camera, w, h)
        prog["u_background"] = bg
        base = len(MARCH_UNITS)
        for i, feat in enumerate(targets.features):
            feat.use(base + i)
        targets.alpha.use(base + len(targets.features))
        if self._mlp_buffer is not None and not self.baked_weights:
            self._mlp_buffer.bind_to_storage_buffer(0)
        vao.render(moderngl.TRIANGLES, vertices=3)

    # -- bookkeeping -----------------------------------------------------------------------
    def gl_objects(self) -> int:
        """GL objects this renderer holds (constant once every LOD and size has been seen)."""
        count = self.resources.gl_objects() + 2 * (len(self._march) + len(self._mlp)) + 2
        count += self._mlp_buffer is not None
        count += len(self._targets.objects()) if self._targets is not None else 0
        return count

    def release(self) -> None:
        self.resources.release()
        for prog, vao in (*self._march.values(), *self._mlp.values()):
            vao.release()
            prog.release()
        self._march.clear()
        self._mlp.clear()
        if self._mlp_buffer is not None:
            self._mlp_buffer.release()
            self._mlp_buffer = None
        if self._targets is not None:
            self._targets.release()
            self._targets = None
        self._present_vao.release()
        self._present.release()
