"""Training-time renderer: the maths of docs/RENDERING.md, organised for speed on CPU.

Same samples, activations, skipping and compositing as `codec.render.torch_renderer.render_rays`
(a test checks they agree), but
* density levels are interpolated one by one at the samples and summed (equal to interpolating
  the composed lattice up to float rounding, see RENDERING.md), so no n³ composition runs
  under autograd at every step (planes are composed: that measured faster for them);
* candidate samples are generated only inside the bounding box of the occupied cells;
* transmittance is a packed (per-sample) cumulative sum instead of a rays × samples matrix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
import torch.nn.functional as F

from ..field.compose import compose_planes
from ..field.config import RenderParams
from ..field.grids import MLPWeights
from ..field.mlp import apply_mlp, encode_view
from ..field.occupancy import step_size
from ..render.torch_renderer import ALPHA_FLOOR, TRANSMITTANCE_STOP, ray_box


def occupied_box(occupancy: torch.Tensor, aabb: torch.Tensor) -> torch.Tensor | None:
    """World-space box (2, 3) around the occupied cells, or None if nothing is occupied."""
    idx = occupancy.nonzero()
    if idx.numel() == 0:
        return None
    n = occupancy.shape[-1] + 1
    lo_cell = idx.amin(dim=0).flip(0).to(aabb.dtype)  # [z,y,x] -> x,y,z
    hi_cell = (idx.amax(dim=0) + 1).flip(0).to(aabb.dtype)
    extent = aabb[1] - aabb[0]
    return torch.stack((aabb[0] + lo_cell / (n - 1) * extent, aabb[0] + hi_cell / (n - 1) * extent))


_worker: ThreadPoolExecutor | None = None


def _forget_worker() -> None:
    global _worker
    _worker = None  # a forked child has no worker thread: it starts its own when needed


os.register_at_fork(after_in_child=_forget_worker)


def _per_level(fn: Callable[[torch.Tensor], torch.Tensor], tensors: list[torch.Tensor]) -> list:
    """``[fn(t) for t in tensors]``, two at a time when torch has 2+ CPU threads.

    ATen's CPU 3-D grid sampler parallelises over the batch only, and every level is a batch
    of one: profiled on figure128 at 2 threads, its forward and backward (~16 % of a P-frame
    step) ran no faster than at 1 thread. The levels are independent, so a second Python
    thread (torch releases the GIL inside ops) takes every other one; each result is the same
    tensor the loop would compute, and callers combine them in the loop's order.
    """
    global _worker
    if len(tensors) < 2 or tensors[0].device.type != "cpu" or torch.get_num_threads() < 2:
        return [fn(t) for t in tensors]
    if _worker is None:
        _worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fieldcast-levels")
    grad = torch.is_grad_enabled()  # thread-local: the worker must see the caller's mode

    def job(t: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(grad):
            return fn(t)

    odd = [_worker.submit(job, t) for t in tensors[1::2]]
    out: list = [None] * len(tensors)
    out[0::2] = [fn(t) for t in tensors[0::2]]
    out[1::2] = [f.result() for f in odd]
    return out


def _sample_density(levels: list[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
    pts = grid.view(1, 1, 1, -1, 3)

    def sample(d: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(
            d[None, None], pts, mode="bilinear", padding_mode="border", align_corners=True
        ).view(-1)

    raw = None
    for v in _per_level(sample, levels):
        raw = v if raw is None else raw + v
    return raw


class _DensityAt(torch.autograd.Function):
    """Sum of the density levels at `pts`, whose value the caller already has.

    The no-grad pass that finds the live samples has interpolated every level at every
    candidate; the values at the live ones are the same numbers (grid_sample is pointwise), so
    only the backward needs to run: the same `grid_sampler_3d_backward` autograd would call.
    """

    @staticmethod
    def forward(ctx, raw: torch.Tensor, pts: torch.Tensor, *levels: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(pts, *levels)
        return raw.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        pts, *levels = ctx.saved_tensors
        g = grad.contiguous().view(1, 1, 1, 1, -1)
        # The gradient w.r.t. a lattice depends on its shape, the points and `grad` only, not
        # on its values: levels sharing a lattice (e.g. 25/25/49/97) share one backward.
        firsts: dict[tuple[int, ...], torch.Tensor] = {}
        for d, need in zip(levels, ctx.needs_input_grad[2:]):
            if need:
                firsts.setdefault(tuple(d.shape), d)

        def backward(d: torch.Tensor) -> torch.Tensor:
            return torch.ops.aten.grid_sampler_3d_backward(
                g, d[None, None], pts, 0, 1, True, [True, False]
            )[0].view_as(d)

        by_shape = dict(zip(firsts, _per_level(backward, list(firsts.values()))))
        grads, used = [], set()
        for d, need in zip(levels, ctx.needs_input_grad[2:]):
            shape = tuple(d.shape)
            if not need:
                grads.append(None)
            elif shape in used:
                grads.append(by_shape[shape].clone())
            else:
                used.add(shape)
                grads.append(by_shape[shape])
        return (None, None, *grads)


PLANE_CHANNEL_SPLIT = 2
"""Each plane's channels are sampled as this many batch items (see `_sample_planes`)."""


def _sample_planes(levels: list[torch.Tensor], grid: torch.Tensor) -> torch.Tensor:
    """Planes composed onto the finest lattice (under autograd), sampled once: (S, 3C).

    Measured on CPU: one grid_sample backward on the composed planes plus the bilinear
    upsampling backward costs ~1/3 of four per-level grid_sample backwards (and hand-written
    gathers were slower still).
    """
    planes = compose_planes(levels)
    coords = torch.stack((grid[:, [0, 1]], grid[:, [0, 2]], grid[:, [1, 2]]), dim=0)[:, None]
    n, c, h, w = planes.shape
    # ATen's CPU grid_sample backward parallelises over the batch only: three planes on two
    # threads run 2:1. Each plane's channels split in two halves (6 batch items, 3:3) give every
    # (channel, texel) the same sum over the samples in the same order: the same numbers.
    split = PLANE_CHANNEL_SPLIT if c % PLANE_CHANNEL_SPLIT == 0 else 1
    feats = F.grid_sample(
        planes.reshape(n * split, c // split, h, w), coords.repeat_interleave(split, dim=0),
        mode="bilinear", padding_mode="border", align_corners=True,
    ).reshape(n, c, 1, -1)
    return feats[:, :, 0].permute(2, 0, 1).reshape(-1, 3 * c)


def _transmittance(optical: torch.Tensor, ray_idx: torch.Tensor) -> torch.Tensor:
    """exp(−exclusive per-ray prefix sum of optical depth) on packed, ray-sorted samples."""
    csum = torch.cumsum(optical.double(), 0)
    starts = torch.ones_like(ray_idx, dtype=torch.bool)
    starts[1:] = ray_idx[1:] != ray_idx[:-1]
    start_pos = torch.nonzero(starts, as_tuple=True)[0]
    seg = torch.cumsum(starts.long(), 0) - 1
    before_start = (csum - optical.double())[start_pos]
    excl = (csum - optical.double() - before_start[seg]).float()
    return torch.exp(-excl)


def render_train(
    density_levels: list[torch.Tensor],
    plane_levels: list[torch.Tensor],
    mlp: MLPWeights,
    aabb: torch.Tensor,
    params: RenderParams,
    origins: torch.Tensor,
    dirs: torch.Tensor,
    background: torch.Tensor,
    occupancy: torch.Tensor,
    jitter: torch.Tensor,
    box: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(rgb (R, 3), alpha (R,)) of rays through levels 1..l given as separate tensors.

    ``occupancy`` is the composed LOD's grid and ``box`` its `occupied_box` (None: empty).
    """
    device = origins.device
    n_rays = origins.shape[0]
    n = density_levels[-1].shape[-1]
    step = step_size(aabb, n, params)
    feat_dim = 3 * plane_levels[0].shape[1]
    alpha = torch.zeros(n_rays, device=device, dtype=origins.dtype)
    acc_feat = torch.zeros(n_rays, feat_dim, device=device, dtype=origins.dtype)
    t0, t1 = ray_box(origins, dirs, aabb)
    if box is not None:
        b0, b1 = ray_box(origins, dirs, box)
        # Sample k sits at t0 + (k + ξ)Δ: keep the k whose samples can fall inside the box.
        k_lo = torch.floor((b0 - t0) / step - jitter).clamp_min(0)
        k_hi = torch.ceil((torch.minimum(b1, t1) - t0) / step - jitter)
        count = torch.where(b1 > b0, k_hi - k_lo + 1, torch.zeros_like(k_lo)).clamp_min(0)
        n_max = int(count.max().item()) if n_rays else 0
    else:
        n_max = 0
    if n_max > 0:
        # Packed candidates: ray r contributes count[r] samples k_lo[r], k_lo[r] + 1, ...
        # Every per-ray quantity is gathered in one (N, 11) index_select (seven separate
        # gathers over ~10^5..10^6 candidates were ~15% of a P-frame step on CPU).
        counts = count.long()
        ray_idx = torch.repeat_interleave(torch.arange(n_rays, device=device), counts)
        first = (torch.cumsum(counts, 0) - counts).to(origins.dtype)
        per_ray = torch.cat(
            (t0[:, None], k_lo[:, None], jitter[:, None], t1[:, None], first[:, None],
             origins, dirs), dim=1,
        ).index_select(0, ray_idx)
        j = torch.arange(ray_idx.numel(), device=device, dtype=origins.dtype) - per_ray[:, 4]
        ts = per_ray[:, 0] + (per_ray[:, 1] + j + per_ray[:, 2]) * step
        pts = torch.addcmul(per_ray[:, 5:8], per_ray[:, 8:11], ts[:, None])
        u = ((pts - aabb[0]) / (aabb[1] - aabb[0])).clamp_(0.0, 1.0)
        cell = (u * (n - 1)).floor_().long().clamp_(0, n - 2)
        flat = (cell[:, 2] * (n - 1) + cell[:, 1]) * (n - 1) + cell[:, 0]
        keep = occupancy.reshape(-1).index_select(0, flat) & (ts < per_ray[:, 3])
        keep_idx = keep.nonzero().view(-1)
        ray_idx, u = ray_idx.index_select(0, keep_idx), u.index_select(0, keep_idx)
        if ray_idx.numel():
            grid = u * 2.0 - 1.0
            if torch.is_grad_enabled():
                # Samples past early termination get zero weight and only feed the transmittance
                # of later (also dead) samples: their gradient is exactly zero. Find them without
                # autograd and keep them out of the graph (measured: most of the samples behind
                # an opaque surface, ~40% of the backward cost on figure128).
                with torch.no_grad():
                    raw_all = _sample_density(density_levels, grid)
                    optical = F.softplus(raw_all + params.density_shift) * step
                    alive = _transmittance(optical, ray_idx) >= TRANSMITTANCE_STOP
                alive = alive.nonzero().view(-1)
                ray_idx, grid = ray_idx.index_select(0, alive), grid.index_select(0, alive)
                raw = _DensityAt.apply(raw_all.index_select(0, alive), grid.view(1, 1, 1, -1, 3),
                                       *density_levels)
            else:
                raw = _sample_density(density_levels, grid)
            optical = F.softplus(raw + params.density_shift) * step
            trans = _transmittance(optical, ray_idx)
            w = trans * (1.0 - torch.exp(-optical))
            w = torch.where(trans < TRANSMITTANCE_STOP, torch.zeros_like(w), w)
            alpha = alpha.index_add(0, ray_idx, w)
            live = (w > 0).nonzero().view(-1)
            if live.numel():
                feats = _sample_planes(plane_levels, grid.index_select(0, live))
                acc_feat = acc_feat.index_add(
                    0, ray_idx.index_select(0, live), feats * w.index_select(0, live)[:, None]
                )
    mean_feat = acc_feat / alpha.clamp_min(ALPHA_FLOOR)[:, None]
    x = torch.cat((mean_feat, encode_view(dirs, params.view_freqs).to(mean_feat.dtype)), dim=-1)
    color = apply_mlp(mlp, x)
    rgb = alpha[:, None] * color + (1.0 - alpha[:, None]) * background.to(color.dtype)
    return rgb, alpha
