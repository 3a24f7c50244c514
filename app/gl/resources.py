"""GPU copies of one composed LOD: density, packed tri-planes, skip map, MLP weights.

Textures are kept per lattice size (at most one set per LOD) and rewritten in place with `.write`
when the frame changes, so switching frames or levels allocates nothing after the first visit and
the GL object count stays bounded by the number of LODs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import moderngl
import numpy as np
import torch

from codec.field.grids import FrameGrids
from codec.field.occupancy import occupancy_grid, step_size

from .skip import skip_map

PRECISIONS = {"f4": "f4", "f2": "f2"}
"""Texture precision of density and features: float32 (default) or half floats."""


def pack_planes(planes: torch.Tensor, dtype=np.float32) -> np.ndarray:
    """(3, C, m, m) -> (3*C4, m, m, 4): RGBA texel groups of four channels, zero padded."""
    src = planes.detach().cpu().numpy()
    three, c, m, _ = src.shape
    c4 = (c + 3) // 4
    out = np.zeros((three, c4, m, m, 4), dtype)
    for ch in range(c):
        out[:, ch // 4, :, :, ch % 4] = src[:, ch]
    return out.reshape(three * c4, m, m, 4)


@dataclass
class PreparedFrame:
    """Everything an upload needs, computed without GL (so any thread can build it)."""

    density: np.ndarray
    planes: np.ndarray
    skip: np.ndarray
    occupied_fraction: float
    grids: FrameGrids

    @property
    def size_key(self) -> tuple[int, int, int]:
        return (self.density.shape[0], self.planes.shape[1], self.planes.shape[0] // 3)


def prepare_frame(grids: FrameGrids, precision: str = "f4") -> PreparedFrame:
    """Compose the LOD, build its occupancy (codec.field.occupancy) and skip map, pack texels.

    This is the CPU side of a frame change (tens of ms at full LOD); a player can run it on its
    decode thread and hand the result to `FieldRenderer.set_frame`.
    """
    np_dtype = np.float16 if precision == "f2" else np.float32
    density, planes = grids.composed()
    n = int(density.shape[-1])
    occ = occupancy_grid(density, step_size(grids.aabb, n, grids.params), grids.params)
    return PreparedFrame(
        density=np.ascontiguousarray(density.detach().cpu().numpy().astype(np_dtype)),
        planes=pack_planes(planes, np_dtype),
        skip=skip_map(occ),
        occupied_fraction=float(occ.float().mean()),
        grids=grids,
    )


@dataclass
class LodTextures:
    """The three textures of one composed lattice size."""

    density: moderngl.Texture3D
    planes: moderngl.TextureArray
    skip: moderngl.Texture3D
    n: int
    m: int
    key: object = None
    """Identity of the frame currently uploaded (None: unknown, always re-upload)."""

    def release(self) -> None:
        for tex in (self.density, self.planes, self.skip):
            tex.release()


@dataclass
class UploadStats:
    uploads: int = 0
    skipped: int = 0
    bytes: int = 0
    last_prepare_ms: float = 0.0
    last_upload_ms: float = 0.0
    extra: dict = field(default_factory=dict)


class FieldResources:
    """Owns every texture of the field renderer for one GL context."""

    def __init__(self, ctx: moderngl.Context, *, precision: str = "f4", filtering: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}")
        self.ctx = ctx
        self.precision = precision
        self.filtering = filtering
        self._sets: dict[tuple[int, int, int], LodTextures] = {}
        self.current: LodTextures | None = None
        self.stats = UploadStats()

    def _create(self, n: int, m: int, c4: int) -> LodTextures:
        ctx, dt = self.ctx, self.precision
        filt = (moderngl.LINEAR, moderngl.LINEAR) if self.filtering else (moderngl.NEAREST,) * 2
        density = ctx.texture3d((n, n, n), 1, dtype=dt)
        planes = ctx.texture_array((m, m, 3 * c4), 4, dtype=dt)
        skip = ctx.texture3d((n - 1,) * 3, 1, dtype="u1")
        for tex in (density, planes):
            tex.filter = filt
            tex.repeat_x = tex.repeat_y = False
        density.repeat_z = False
        skip.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return LodTextures(density, planes, skip, n, m)

    def upload(self, frame: FrameGrids | PreparedFrame, key: object = None) -> LodTextures:
        """Make the frame's composed LOD current; re-upload unless `key` matches the last one."""
        if isinstance(frame, FrameGrids):
            density, planes = frame.composed()
            size_key = (int(density.shape[-1]), int(planes.shape[-1]), (int(planes.shape[1]) + 3) // 4)
        else:
            size_key = frame.size_key
        tex = self._sets.get(size_key)
        if tex is None:
            tex = self._sets[size_key] = self._create(*size_key)
        self.current = tex
        if key is not None and tex.key == key:
            self.stats.skipped += 1
            return tex
        start = time.perf_counter()
        prepared = frame if isinstance(frame, PreparedFrame) else prepare_frame(frame, self.precision)
        mid = time.perf_counter()
        tex.density.write(prepared.density)
        tex.planes.write(prepared.planes)
        tex.skip.write(prepared.skip)
        tex.key = key
        self.stats.uploads += 1
        self.stats.bytes += prepared.density.nbytes + prepared.planes.nbytes + prepared.skip.nbytes
        self.stats.last_prepare_ms = (mid - start) * 1e3
        self.stats.last_upload_ms = (time.perf_counter() - mid) * 1e3
        self.stats.extra["occupied_fraction"] = prepared.occupied_fraction
        return tex

    def gl_objects(self) -> int:
        return 3 * len(self._sets)

    def release(self) -> None:
        for tex in self._sets.values():
            tex.release()
        self._sets.clear()
        self.current = None
