"""GPU copies of one composed LOD: density, packed tri-planes, skip map, MLP weights.

Textures are kept per lattice size (at most one set per LOD) and rewritten in place with `.write`
when the frame changes, so switching frames or levels allocates nothing after the first visit and
the GL object count stays bounded by the number of LODs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np
import torch

from codec.field.grids import FrameGrids
from codec.field.occupancy import occupancy_grid, step_size

from .skip import skip_map

PRECISIONS = {"f4": "f4", "f2": "f2"}
"""Texture precision of density and features: float32 (default) or half floats."""


def pack_planes(planes: torch.Tensor) -> np.ndarray:
    """(3, C, m, m) -> (3*C4, m, m, 4): RGBA texel groups of four channels, zero padded."""
    three, c, m, _ = planes.shape
    c4 = (c + 3) // 4
    padded = torch.zeros(three, 4 * c4, m, m, dtype=torch.float32)
    padded[:, :c] = planes.detach().float().cpu()
    packed = padded.view(three, c4, 4, m, m).permute(0, 1, 3, 4, 2)  # (3, C4, row, col, 4)
    return np.ascontiguousarray(packed.reshape(three * c4, m, m, 4).numpy())


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

    def upload(self, grids: FrameGrids, key: object = None) -> LodTextures:
        """Make `grids` (its composed LOD) current; re-upload unless `key` matches the last one."""
        import time

        density, planes = grids.composed()
        n, m = int(density.shape[-1]), int(planes.shape[-1])
        c4 = (int(planes.shape[1]) + 3) // 4
        size_key = (n, m, c4)
        tex = self._sets.get(size_key)
        if tex is None:
            tex = self._sets[size_key] = self._create(n, m, c4)
        self.current = tex
        if key is not None and tex.key == key:
            self.stats.skipped += 1
            return tex
        start = time.perf_counter()
        np_dtype = np.float16 if self.precision == "f2" else np.float32
        dens_np = np.ascontiguousarray(density.detach().cpu().numpy().astype(np_dtype))
        planes_np = pack_planes(planes).astype(np_dtype, copy=False)
        occ = occupancy_grid(density, step_size(grids.aabb, n, grids.params), grids.params)
        skip_np = skip_map(occ)
        prepared = time.perf_counter()
        tex.density.write(dens_np)
        tex.planes.write(planes_np)
        tex.skip.write(skip_np)
        tex.key = key
        self.stats.uploads += 1
        self.stats.bytes += dens_np.nbytes + planes_np.nbytes + skip_np.nbytes
        self.stats.last_prepare_ms = (prepared - start) * 1e3
        self.stats.last_upload_ms = (time.perf_counter() - prepared) * 1e3
        self.stats.extra["occupied_fraction"] = float(occ.float().mean())
        return tex

    def gl_objects(self) -> int:
        return 3 * len(self._sets)

    def release(self) -> None:
        for tex in self._sets.values():
            tex.release()
        self._sets.clear()
        self.current = None
