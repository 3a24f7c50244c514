"""Synthetic `FrameGrids` with a realistic occupancy, for renderer tests and benchmarks.

A torso-and-head blob (about 10-20% of the box occupied, like a captured figure) whose finer
levels add surface detail; empty space is strongly negative as in trained fields, so occupancy
skipping has the same job as on real clips. Frames move and deform the blob a little.
"""

from __future__ import annotations

import math

import torch

from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids
from codec.field.mlp import init_mlp


def _blob_sdf(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, phase: float) -> torch.Tensor:
    """Signed distance-like function (<0 inside) of a body plus a head, in box units [-1, 1]."""
    sway = 0.08 * math.sin(phase)
    body = ((x - sway) / 0.38) ** 2 + ((y + 0.15) / 0.62) ** 2 + (z / 0.28) ** 2
    head = ((x - 1.5 * sway) ** 2 + (y - 0.62) ** 2 + z**2) / 0.2**2
    return torch.minimum(body.sqrt() - 1.0, head.sqrt() - 1.0)


def synthetic_frame(cfg: FieldConfig, frame: int = 0, seed: int = 0) -> FrameGrids:
    """Frame `frame` of a synthetic clip: all cfg.levels levels, the GoF MLP from `seed`."""
    gen = torch.Generator().manual_seed(seed * 1000 + frame)
    mlp_gen = torch.Generator().manual_seed(seed)
    dens, planes = [], []
    for lvl, (n, m) in enumerate(zip(cfg.density_res, cfg.plane_res)):
        axis = torch.linspace(-1, 1, n)
        zz, yy, xx = torch.meshgrid(axis, axis, axis, indexing="ij")
        sdf = _blob_sdf(xx, yy, zz, 0.3 * frame)
        if lvl == 0:
            d = -40.0 * sdf.clamp(-0.3, 0.5) + 2.0
        else:
            # Detail only near the surface, so empty space stays empty at every LOD.
            shell = torch.exp(-((sdf / 0.15) ** 2))
            d = (3.0 / lvl) * shell * torch.randn(n, n, n, generator=gen)
        dens.append(d)
        planes.append(torch.randn(3, cfg.channels, m, m, generator=gen) / (1 + lvl))
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, mlp_gen)
    # Larger output weights so colours vary over (0, 1) rather than hugging 0.5.
    mlp[-1] = (mlp[-1][0] * 4.0, mlp[-1][1])
    aabb = torch.tensor([[-1.0, -1.2, -0.8], [1.0, 1.2, 0.8]])
    return FrameGrids(dens, planes, mlp, aabb, cfg.render)
