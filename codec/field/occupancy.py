"""Occupancy grid per frame and per LOD: the single definition both renderers use."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import RenderParams


def step_size(aabb: torch.Tensor, n: int, params: RenderParams) -> float:
    """Sample spacing Δ_l for a composed density lattice of n points per axis."""
    n = max(n, params.step_floor_res)
    extent = (aabb[1] - aabb[0]).double()
    return float(params.step_ratio * (extent / (n - 1)).min())


def corner_max(density: torch.Tensor) -> torch.Tensor:
    """(n-1)^3 grid [z][y][x]: the largest of each cell's 8 corner values."""
    # Three shifted maxima: 5x faster than max_pool3d on CPU.
    d = torch.maximum(density[1:], density[:-1])
    d = torch.maximum(d[:, 1:], d[:, :-1])
    return torch.maximum(d[:, :, 1:], d[:, :, :-1])


@torch.no_grad()
def occupancy_grid(density: torch.Tensor, step: float, params: RenderParams) -> torch.Tensor:
    """Bool grid of (n-1)^3 cells [z][y][x]: True where a sample may have sigma*step >= tau.

    Trilinear interpolation peaks at a cell corner, so the max over the 8 corners bounds every
    sample inside the cell: skipping unoccupied cells can only drop samples below the threshold.
    """
    sigma = F.softplus(corner_max(density.float()) + params.density_shift)
    return sigma * step >= params.occupancy_threshold
