"""Differentiable torch renderer: deferred feature accumulation, one MLP call per ray.

Implements docs/RENDERING.md. Training calls `render_rays` with grids composed under autograd;
the decoder and tests call `render_frame` (no grad, chunked, occupancy on).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..field.config import RenderParams
from ..field.grids import FrameGrids, MLPWeights
from ..field.mlp import apply_mlp, encode_view
from ..field.occupancy import occupancy_grid, step_size

TRANSMITTANCE_STOP = 1e-4
ALPHA_FLOOR = 1e-4


@dataclass
class RayBundle:
    rgb: torch.Tensor
    """(R, 3) composited over the background."""
    alpha: torch.Tensor
    """(R,) accumulated opacity A."""
    samples: int = 0
    """Samples evaluated (occupied, before early termination); for benchmarks."""


def ray_box(
    origins: torch.Tensor, dirs: torch.Tensor, aabb: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Slab intersection: (t0, t1) per ray with t0 clamped at 0; a miss has t1 <= t0."""
    safe = torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    inv = 1.0 / safe
    ta = (aabb[0] - origins) * inv
    tb = (aabb[1] - origins) * inv
    t0 = torch.minimum(ta, tb).amax(dim=-1).clamp_min(0.0)
    t1 = torch.maximum(ta, tb).amin(dim=-1)
    return t0, t1


def render_rays(
    density: torch.Tensor,
    planes: torch.Tensor,
    mlp: MLPWeights,
    aabb: torch.Tensor,
    params: RenderParams,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    background: torch.Tensor,
    *,
    occupancy: torch.Tensor | None = None,
    jitter: torch.Tensor | None = None,
) -> RayBundle:
    """Render rays through a composed LOD (density (n,n,n), planes (3,C,m,m)).

    ``occupancy`` (bool, (n-1)^3) skips unoccupied cells; None renders densely (for tests).
    ``jitter`` (R,) in [0, 1) replaces the sample offset 0.5 (training).
    ``background`` is (3,) or (R, 3).
    """
    device = origins.device
    n_rays = origins.shape[0]
    n = density.shape[-1]
    step = step_size(aabb, n, params)
    t0, t1 = ray_box(origins, dirs, aabb)
    span = (t1 - t0).clamp_min(0.0)
    n_max = int(torch.ceil(span.max() / step).item()) if n_rays else 0
    feat_dim = planes.shape[0] * planes.shape[1]
    acc_feat = torch.zeros(n_rays, feat_dim, device=device, dtype=planes.dtype)
    alpha_sum = torch.zeros(n_rays, device=device, dtype=density.dtype)
    evaluated = 0
    if n_max > 0:
        offset = jitter[:, None] if jitter is not None else 0.5
        k = torch.arange(n_max, device=device, dtype=origins.dtype)
        t = t0[:, None] + (k[None, :] + offset) * step  # (R, K)
        valid = t < t1[:, None]
        extent = aabb[1] - aabb[0]
        # Normalized coordinates of the candidate samples, only where valid.
        ray_idx, samp_idx = valid.nonzero(as_tuple=True)
        pts = origins[ray_idx] + dirs[ray_idx] * t[ray_idx, samp_idx, None]
        u = ((pts - aabb[0]) / extent).clamp(0.0, 1.0)
        if occupancy is not None:
            cell = (u * (n - 1)).floor().long().clamp(0, n - 2)
            keep = occupancy[cell[:, 2], cell[:, 1], cell[:, 0]]
            ray_idx, samp_idx, u = ray_idx[keep], samp_idx[keep], u[keep]
        evaluated = int(u.shape[0])
        if evaluated:
            grid = (u * 2.0 - 1.0).to(density.dtype)
            raw = F.grid_sample(
                density[None, None],
                grid.view(1, 1, 1, -1, 3),
                mode="bilinear",
                padding_mode="border",
                align_corners=True,
            ).view(-1)
            sigma_delta = F.softplus(raw + params.density_shift) * step
            # Transmittance in log space: T_k = exp(-Σ_{j<k} σ_j Δ).
            optical = torch.zeros(n_rays, n_max, device=device, dtype=density.dtype)
            optical = optical.index_put((ray_idx, samp_idx), sigma_delta)
            cum = torch.cumsum(optical, dim=1)
            trans_before = torch.exp(-(cum - optical))
            weights_dense = trans_before * (1.0 - torch.exp(-optical))
            weights_dense = torch.where(
                trans_before < TRANSMITTANCE_STOP, torch.zeros_like(weights_dense), weights_dense
            )
            w = weights_dense[ray_idx, samp_idx]
            alpha_sum = weights_dense.sum(dim=1)
            live = w > 0
            if bool(live.any()):
                w_live, r_live, g = w[live], ray_idx[live], grid[live]
                coords = torch.stack(
                    (g[:, [0, 1]], g[:, [0, 2]], g[:, [1, 2]]), dim=0
                )  # (3, S, 2): xy, xz, yz
                feats = F.grid_sample(
                    planes,
                    coords[:, None],
                    mode="bilinear",
                    padding_mode="border",
                    align_corners=True,
                )  # (3, C, 1, S)
                feats = feats[:, :, 0].permute(2, 0, 1).reshape(-1, feat_dim)
                acc_feat = acc_feat.index_add(0, r_live, feats * w_live[:, None])
    mean_feat = acc_feat / alpha_sum.clamp_min(ALPHA_FLOOR)[:, None]
    x = torch.cat((mean_feat, encode_view(dirs, params.view_freqs).to(mean_feat.dtype)), dim=-1)
    color = apply_mlp(mlp, x)
    bg = background.to(color.dtype)
    rgb = alpha_sum[:, None] * color + (1.0 - alpha_sum[:, None]) * bg
    return RayBundle(rgb=rgb, alpha=alpha_sum, samples=evaluated)


def lod_occupancy(grids: FrameGrids) -> torch.Tensor:
    density, _ = grids.composed()
    return occupancy_grid(density, step_size(grids.aabb, density.shape[-1], grids.params), grids.params)


@torch.no_grad()
def render_frame(
    grids: FrameGrids,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    background: torch.Tensor,
    *,
    use_occupancy: bool = True,
    chunk: int = 16384,
) -> RayBundle:
    """No-grad render of many rays (e.g. a whole image, flattened) in chunks."""
    density, planes = grids.composed()
    occ = lod_occupancy(grids) if use_occupancy else None
    dev = density.device
    origins, dirs = origins.to(dev), dirs.to(dev)
    background = background.to(dev)
    rgbs, alphas, samples = [], [], 0
    for s in range(0, origins.shape[0], chunk):
        bg = background[s : s + chunk] if background.dim() == 2 else background
        out = render_rays(
            density, planes, grids.mlp, grids.aabb, grids.params,
            origins[s : s + chunk], dirs[s : s + chunk], bg, occupancy=occ,
        )
        rgbs.append(out.rgb)
        alphas.append(out.alpha)
        samples += out.samples
    return RayBundle(torch.cat(rgbs), torch.cat(alphas), samples)
