"""Synthetic `FrameGrids` shaped like a captured figure, for renderer tests and benchmarks.

A torso, head, arms and legs (about 10-20% of the box occupied) with a sharp, opaque surface:
raw density ≈ 54 inside (σ ≈ 50, as the figure128 benchmark scene's 50·sigmoid(−sdf/0.012)),
strongly negative outside as in trained fields, so occupancy skipping and early termination do
the same work as on real clips. Finer levels add surface detail; frames swing the limbs.
"""

from __future__ import annotations

import math

import torch

from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids
from codec.field.mlp import init_mlp

SIGMA_INSIDE = 50.0
SURFACE_WIDTH = 0.03
"""Width (box units) of the density ramp; sharper than one LOD-1 voxel, like a trained field."""


def _capsule(p: tuple[torch.Tensor, ...], a, b, radius: float) -> torch.Tensor:
    x, y, z = p
    ab = [b[i] - a[i] for i in range(3)]
    ap = [p[i] - a[i] for i in range(3)]
    t = ((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / sum(v * v for v in ab)).clamp(0, 1)
    d = [ap[i] - t * ab[i] for i in range(3)]
    return (d[0] ** 2 + d[1] ** 2 + d[2] ** 2).sqrt() - radius


def figure_sdf(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, phase: float) -> torch.Tensor:
    """Approximate signed distance (< 0 inside) of a standing figure in box units [-1, 1]^3."""
    swing = 0.35 * math.sin(phase)
    p = (x, y, z)
    torso = ((x / 0.26) ** 2 + ((y - 0.05) / 0.38) ** 2 + (z / 0.17) ** 2).sqrt() - 1.0
    torso = torso * 0.17
    head = ((x**2 + (y - 0.6) ** 2 + z**2).sqrt()) - 0.16
    parts = [torso, head]
    for side in (-1.0, 1.0):
        hand = (side * 0.62, -0.1 + 0.1 * swing * side, 0.3 * swing * side)
        parts.append(_capsule(p, (side * 0.24, 0.3, 0.0), hand, 0.07))
        foot = (side * 0.16, -0.92, 0.3 * swing * side)
        parts.append(_capsule(p, (side * 0.12, -0.3, 0.0), foot, 0.09))
    return torch.stack(parts).amin(dim=0)


def synthetic_frame(cfg: FieldConfig, frame: int = 0, seed: int = 0) -> FrameGrids:
    """Frame `frame` of a synthetic clip: all cfg.levels levels, the GoF MLP from `seed`."""
    gen = torch.Generator().manual_seed(seed * 1000 + frame)
    mlp_gen = torch.Generator().manual_seed(seed)
    dens, planes = [], []
    for lvl, (n, m) in enumerate(zip(cfg.density_res, cfg.plane_res)):
        axis = torch.linspace(-1, 1, n)
        zz, yy, xx = torch.meshgrid(axis, axis, axis, indexing="ij")
        sdf = figure_sdf(xx, yy, zz, 0.4 * frame)
        if lvl == 0:
            d = -12.0 + (SIGMA_INSIDE + 16.0) * torch.sigmoid(-sdf / SURFACE_WIDTH)
        else:
            # Detail only near the surface, so empty space stays empty at every LOD.
            shell = torch.exp(-((sdf / 0.05) ** 2))
            d = (6.0 / lvl) * shell * torch.randn(n, n, n, generator=gen)
        dens.append(d)
        planes.append(torch.randn(3, cfg.channels, m, m, generator=gen) / (1 + lvl))
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, mlp_gen)
    # Larger output weights so colours vary over (0, 1) rather than hugging 0.5.
    mlp[-1] = (mlp[-1][0] * 4.0, mlp[-1][1])
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    return FrameGrids(dens, planes, mlp, aabb, cfg.render)
