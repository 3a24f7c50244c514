"""Empty-space skip map: per occupancy cell, the radius of an all-empty cube around it.

The shader jumps over the whole cube in one step. Skipping only ever drops samples inside
unoccupied cells, which per-sample skipping (docs/RENDERING.md) drops as well, so the image is the
same; the map only decides how many occupancy fetches it takes to get there.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_RADIUS = 16
"""Largest radius tried (cells); radii double 1, 2, 4, ... so the build is a few passes."""


def _dilate_axis(mask: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """OR over a window of 2*radius+1 along one axis (Chebyshev dilation is separable)."""
    out = mask.copy()
    n = mask.shape[axis]
    for shift in range(1, min(radius, n - 1) + 1):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, n - shift), slice(shift, n)
        out[tuple(lo)] |= mask[tuple(hi)]
        out[tuple(hi)] |= mask[tuple(lo)]
    return out


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    for axis in range(3):
        mask = _dilate_axis(mask, radius, axis)
    return mask


@torch.no_grad()
def skip_map(occupancy: torch.Tensor) -> np.ndarray:
    """uint8 (n-1)^3 [z][y][x]: 0 = occupied; r >= 1 = no occupied cell within radius r-1."""
    occ = occupancy.bool().cpu().numpy()
    out = np.where(occ, 0, 1).astype(np.uint8)
    grown, radius = occ, 0
    while radius < MAX_RADIUS:
        step = max(radius, 1)  # dilating a radius-r dilation by r gives radius 2r
        grown = _dilate(grown, step)
        radius += step
        free = ~grown
        if not free.any():
            break
        out[free] = radius + 1
    return out
