"""Plane texels the renderer never reads, from the occupancy grids of a frame's LODs.

The renderer samples only inside occupied cells (codec/field/occupancy.py). A texel j of a plane
level with m texels per side enters a sample at coordinate u (in [0, 1]) only through its
bilinear hat, ``|u - j / (m - 1)| < 1 / (m - 1)`` (also after composition onto a nested finer
lattice, which keeps the hat exactly). Plane xy is indexed [y][x], xz [z][x], yz [z][y]; the occupancy grid
[z][y][x]. Composition resamples each level onto the next lattice: when that lattice does not
contain the previous one, the hat widens by one target texel (`_resample_spread`). So a texel
is *seen* at LOD k >= its level when some occupied cell of LOD k, projected
along the plane's normal, overlaps its hat. Texels no LOD sees have no photometric gradient: the
rate term's optimum there is the zero symbol (`JointRateHook` sets them to 0).
"""

from __future__ import annotations

import math

import torch


def _overlap(m: int, cells: int, margin: float, device: torch.device) -> torch.Tensor:
    """(m, cells) float: 1 where texel j's hat (widened by `margin` texels) overlaps cell i."""
    j = torch.arange(m, dtype=torch.float64, device=device)
    lo = (j - 1 - margin) / (m - 1)
    hi = (j + 1 + margin) / (m - 1)
    i = torch.arange(cells, dtype=torch.float64, device=device)
    c0, c1 = i / cells, (i + 1) / cells
    return ((c0[None, :] < hi[:, None]) & (c1[None, :] > lo[:, None])).to(torch.float32)


def _resample_spread(plane_res: list[int] | tuple[int, ...], lvl: int, lod: int) -> float:
    """Extra reach, in texels of level `lvl`, that composing onto LOD `lod` adds: each bilinear
    resampling onto a lattice that does not contain the previous one (m_j - 1 not dividing
    m_{j+1} - 1) widens a hat by one target texel; nested resamplings are exact."""
    extra = 0.0
    for j in range(lvl, lod - 1):
        if (plane_res[j + 1] - 1) % (plane_res[j] - 1):
            extra += (plane_res[lvl] - 1) / (plane_res[j + 1] - 1)
    return extra


@torch.no_grad()
def seen_texels(
    occupancy: dict[int, torch.Tensor], plane_res: list[int] | tuple[int, ...], margin: int = 1
) -> list[torch.Tensor]:
    """Per plane level l (0-based), a bool (3, m_l, m_l) mask of texels some LOD k > l sees.

    ``occupancy`` maps LOD k (1-based, as the trainer keeps it) to its bool (n-1, n-1, n-1)
    cell grid. A level whose LODs are all missing from ``occupancy`` is reported fully seen
    (nothing is known about it yet).
    """
    out = []
    for lvl, m in enumerate(plane_res):
        lods = [k for k in occupancy if k > lvl]
        if not lods:
            out.append(torch.ones(3, m, m, dtype=torch.bool))
            continue
        acc = None
        for k in lods:
            occ = occupancy[k]
            a = _overlap(m, occ.shape[0], margin + _resample_spread(plane_res, lvl, k), occ.device)
            projections = (occ.any(0), occ.any(1), occ.any(2))  # xy [y][x], xz [z][x], yz [z][y]
            seen = torch.stack([(a @ p.to(torch.float32) @ a.T) > 0 for p in projections])
            acc = seen if acc is None else acc | seen
        out.append(acc.cpu())
    return out


def density_threshold(aabb: torch.Tensor, n: int, params) -> float:  # noqa: ANN001
    """The raw composed density at which a sample on an n-point lattice becomes occupied:
    ``softplus(d + shift) * step(n) >= occupancy_threshold`` (codec/field/occupancy.py)."""
    return raw_density_at(aabb, n, params, params.occupancy_threshold)


def raw_density_at(aabb: torch.Tensor, n: int, params, opacity: float) -> float:  # noqa: ANN001
    """The raw composed density whose sample on an n-point lattice has σ·Δ = ``opacity``."""
    from codec.field.occupancy import step_size

    step = step_size(aabb, n, params)
    return math.log(math.expm1(opacity / step)) - params.density_shift


def _coarser_on_finest(coarser: list[torch.Tensor], fine: torch.Tensor) -> torch.Tensor:
    """The levels under the finest, composed onto its lattice (zeros when there are none)."""
    from codec.field.compose import compose_density, upsample_density

    if not coarser:
        return torch.zeros_like(fine)
    return upsample_density(compose_density(coarser), fine.shape[-1])


@torch.no_grad()
def prunable_density(
    levels: list[torch.Tensor],
    threshold: float,
    steps: list[list[float]],
    margin: float,
    previous: torch.Tensor | None = None,
) -> torch.Tensor:
    """Bool (n, n, n) mask of the finest density level's points whose value can be replaced
    without changing any occupancy: by 0 on an I-frame, by ``previous`` (the level's value in
    the previous frame, i.e. a zero residual) on a P-frame. A point qualifies when no occupied
    cell of the full LOD has it as a corner and, with the replacement, the composed value stays
    ``margin`` under the threshold, both in the float chain and in every track's decoded grid
    (``steps[r][l]``: track r's density step of level l; decoded = round(F / s) * s, the
    closed loop's value).

    The finest level enters only the full LOD, at its own lattice points, and a cell is
    occupied when one of its 8 corners reaches the threshold (codec/field/occupancy.py): so
    such a point keeps every cell around it empty.
    """
    from codec.field.compose import compose_density
    from codec.field.occupancy import corner_max

    fine = levels[-1]
    n = fine.shape[-1]
    # Occupied as codec/field/occupancy.py decides it: some corner of the cell reaches the
    # threshold (softplus is monotone, so comparing raw densities is the same test).
    cell = corner_max(compose_density(levels)) >= threshold
    corner = torch.zeros_like(fine, dtype=torch.bool)
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                corner[a:n - 1 + a, b:n - 1 + b, c:n - 1 + c] |= cell
    zero = torch.zeros_like(fine)
    replacement = zero if previous is None else previous
    ok = ~corner & (_coarser_on_finest(levels[:-1], fine) + replacement < threshold - margin)
    for track in steps:
        decoded = [torch.round(v / s) * s for v, s in zip(levels[:-1], track)]
        rep = zero if previous is None else torch.round(previous / track[-1]) * track[-1]
        ok &= _coarser_on_finest(decoded, fine) + rep < threshold - margin
    return ok


@torch.no_grad()
def relaxed_density(
    levels: list[torch.Tensor], ceiling: float, previous: torch.Tensor | None = None
) -> torch.Tensor:
    """The finest density level with every value under ``ceiling`` (a raw composed density
    that renders as transparent) replaced by the cheapest one that keeps it there.

    Hull carving drives the finest level far negative around the object, where the coarser
    levels' wide support spills density: every such value is a costly symbol, yet the point
    is transparent whether the composed density is −14 or −1. A point with composed value
    C = coarse + fine < ``ceiling`` gets ``previous`` (a P-frame's zero residual) when
    coarse + previous stays under the ceiling, else the value nearest 0 that does:
    min(0, max(fine, ceiling − coarse)). No point crosses the ceiling, none over it changes.
    """
    fine = levels[-1]
    coarse = _coarser_on_finest(levels[:-1], fine)
    under = coarse + fine < ceiling
    nearest = torch.clamp(torch.maximum(fine, ceiling - coarse), max=0.0)
    if previous is not None:
        nearest = torch.where(coarse + previous < ceiling, previous, nearest)
    return torch.where(under, nearest, fine)
