"""A synthetic `FrameGrids`: an ellipsoidal blob with random features, for tests and examples.

Level 1 carries the blob (raw density 30·(0.55 − r), so a sharp surface at r ≈ 0.55); every
level adds density and plane noise, so each LOD renders differently.
"""

from __future__ import annotations

import torch

from .config import FieldConfig
from .grids import FrameGrids
from .mlp import init_mlp

UNIT_BOX = ((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0))


def blob_grids(cfg: FieldConfig, seed: int = 0, noise: float = 0.0, mlp_seed: int = 99) -> FrameGrids:
    """Blob grids for `cfg`'s levels; `noise` adds that much Gaussian noise to the planes."""
    g = torch.Generator().manual_seed(seed)
    dens, planes = [], []
    for lvl, (n, m) in enumerate(zip(cfg.density_res, cfg.plane_res)):
        x = torch.linspace(-1, 1, n)
        zz, yy, xx = torch.meshgrid(x, x, x, indexing="ij")
        r = (xx**2 + (yy * 1.3) ** 2 + zz**2).sqrt()
        base = 30 * (0.55 - r) if lvl == 0 else torch.zeros_like(r)
        dens.append(base + 0.5 * torch.randn(n, n, n, generator=g))
        planes.append(torch.randn(3, cfg.channels, m, m, generator=g))
    if noise:
        planes = [p + noise * torch.randn(p.shape, generator=g) for p in planes]
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, torch.Generator().manual_seed(mlp_seed))
    return FrameGrids(dens, planes, mlp, torch.tensor(UNIT_BOX), cfg.render)
