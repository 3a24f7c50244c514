"""Sum a frame's levels onto the finest used lattice (exact because lattices nest)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compose_density(levels: list[torch.Tensor]) -> torch.Tensor:
    """Σ_j D_j evaluated on the lattice of the last level; differentiable."""
    acc = levels[0]
    for nxt in levels[1:]:
        n = nxt.shape[-1]
        acc = F.interpolate(acc[None, None], size=(n, n, n), mode="trilinear", align_corners=True)[
            0, 0
        ]
        acc = acc + nxt
    return acc


def compose_planes(levels: list[torch.Tensor]) -> torch.Tensor:
    """Σ_j P_j evaluated on the lattice of the last level; levels are (3, C, m, m)."""
    acc = levels[0]
    for nxt in levels[1:]:
        m = nxt.shape[-1]
        acc = F.interpolate(acc, size=(m, m), mode="bilinear", align_corners=True) + nxt
    return acc


def upsample_density(grid: torch.Tensor, n: int) -> torch.Tensor:
    return F.interpolate(grid[None, None], size=(n, n, n), mode="trilinear", align_corners=True)[
        0, 0
    ]


def upsample_planes(planes: torch.Tensor, m: int) -> torch.Tensor:
    return F.interpolate(planes, size=(m, m), mode="bilinear", align_corners=True)
