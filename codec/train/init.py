"""Visual-hull initialisation: carve the box with the training silhouettes.

Starting from the hull makes ~10% of the box occupied from the first step (the occupancy grid
then skips the rest), instead of > 90% for a zero-initialised density.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..field.compose import upsample_density


def lattice_points(aabb: torch.Tensor, n: int) -> torch.Tensor:
    """World positions of an n³ corner-aligned lattice, (n, n, n, 3) indexed [z][y][x]."""
    u = torch.linspace(0.0, 1.0, n, device=aabb.device, dtype=torch.float32)
    z, y, x = torch.meshgrid(u, u, u, indexing="ij")
    unit = torch.stack((x, y, z), dim=-1)
    return aabb[0] + unit * (aabb[1] - aabb[0])


def project(points: torch.Tensor, camera) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(col, row, in_front) pixel coordinates of world points (P, 3) in an OpenGL camera."""
    c2w = torch.tensor(np.array(camera.c2w, dtype=np.float32), device=points.device)
    rel = points - c2w[:3, 3]
    cam = rel @ c2w[:3, :3]  # world -> camera axes (rotation transposed)
    depth = -cam[:, 2]
    safe = depth.clamp_min(1e-6)
    col = camera.cx + camera.fx * cam[:, 0] / safe
    row = camera.cy - camera.fy * cam[:, 1] / safe
    return col, row, depth > 1e-6


def silhouettes(alphas: torch.Tensor, threshold: float, dilate: int) -> torch.Tensor:
    """Bool masks (V, H, W) of alpha > threshold, dilated by `dilate` pixels."""
    mask = (alphas > threshold).float()[:, None]
    if dilate > 0:
        mask = F.max_pool2d(mask, 2 * dilate + 1, stride=1, padding=dilate)
    return mask[:, 0] > 0.5


@torch.no_grad()
def visual_hull(
    cameras: Sequence, alphas: torch.Tensor, aabb: torch.Tensor, n: int,
    threshold: float = 0.05, dilate: int = 1,
) -> torch.Tensor:
    """Bool (n, n, n) [z][y][x]: lattice points inside every silhouette that sees them.

    A point projecting outside an image (or behind its camera) is not carved by that view.
    """
    device = aabb.device
    masks = silhouettes(alphas.to(device), threshold, dilate)
    pts = lattice_points(aabb, n).reshape(-1, 3)
    # Only points no view has carved yet are projected: after a few views most of the box is
    # gone, so this is several times faster than projecting the whole lattice every time.
    alive = torch.arange(pts.shape[0], device=device)
    for cam, mask in zip(cameras, masks):
        col, row, front = project(pts.index_select(0, alive), cam)
        h, w = mask.shape
        ci, ri = col.floor().long(), row.floor().long()
        seen = front & (ci >= 0) & (ci < w) & (ri >= 0) & (ri < h)
        hit = torch.zeros_like(seen)
        hit[seen] = mask[ri[seen], ci[seen]]
        alive = alive[hit | ~seen]
    inside = torch.zeros(pts.shape[0], dtype=torch.bool, device=device)
    inside[alive] = True
    return inside.view(n, n, n)


def hull_at_resolution(hull: torch.Tensor, n: int) -> torch.Tensor:
    """Conservative hull on a coarser nested lattice: occupied if any fine point nearby is."""
    fine = hull.shape[-1]
    if n == fine:
        return hull
    stride = (fine - 1) // (n - 1)
    # A box maximum is separable: three 1-D pools cost O(k) per voxel instead of O(k³)
    # (a 17³ kernel on 97³ took seconds per frame).
    grown = hull.float()[None, None]
    k = 2 * stride + 1
    for kernel, pad in (((k, 1, 1), (stride, 0, 0)), ((1, k, 1), (0, stride, 0)),
                        ((1, 1, k), (0, 0, stride))):
        grown = F.max_pool3d(grown, kernel, stride=1, padding=pad)
    return grown[0, 0, ::stride, ::stride, ::stride] > 0.5


def hull_targets(
    hull: torch.Tensor, resolutions: Sequence[int], inside: float, outside: float
) -> list[torch.Tensor]:
    """Composed raw density wanted at every LOD: `inside` in the hull, `outside` elsewhere."""
    return [
        torch.where(hull_at_resolution(hull, n), inside, outside).float() for n in resolutions
    ]


def levels_from_targets(targets: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Per-level density tensors whose composition at every LOD l equals targets[l]."""
    levels = [targets[0].clone()]
    for prev, cur in zip(targets, targets[1:]):
        levels.append(cur - upsample_density(prev, cur.shape[-1]))
    return levels


@torch.no_grad()
def carve_outside_hull_(
    base: Sequence[torch.Tensor], delta: Sequence[torch.Tensor], hulls: Sequence[torch.Tensor],
    outside: float,
) -> None:
    """Project the density so that every LOD is at most `outside` off its (conservative) hull.

    Applied to the trainable deltas level by level: composed_l = up(composed_{l-1}) + F_l, so
    lowering F_l where composed_l exceeds `outside` off the hull leaves levels < l untouched.
    Nothing real lies outside a visual hull, yet Adam's normalised steps and the coarse levels'
    wide support would otherwise grow fog (and occupancy, hence cost) there.
    """
    composed = None
    for b, d, hull in zip(base, delta, hulls):
        level = b + d
        composed = level if composed is None else upsample_density(composed, level.shape[-1]) + level
        excess = torch.where(hull, torch.zeros_like(composed), (composed - outside).clamp_min(0.0))
        d.sub_(excess)
        composed = composed - excess


@torch.no_grad()
def lift_new_hull_(
    base: Sequence[torch.Tensor], delta: Sequence[torch.Tensor], regions: Sequence[torch.Tensor],
    floor: float,
) -> None:
    """Raise the density to `floor` where the hull newly covers space (a limb moved in).

    The previous frame left that space near `hull_outside` and unoccupied, so no ray sample
    would ever reach it; starting it at the hull's initial density makes it trainable at once.
    The lift lives in the P-frame's residuals, which is where the codec pays for motion.
    """
    composed = None
    for b, d, region in zip(base, delta, regions):
        level = b + d
        composed = level if composed is None else upsample_density(composed, level.shape[-1]) + level
        lift = torch.where(region, (floor - composed).clamp_min(0.0), torch.zeros_like(composed))
        d.add_(lift)
        composed = composed + lift
