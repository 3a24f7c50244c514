"""Torch renderer: occupancy skipping is exact enough, gradients reach every level."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from codec.field.compose import compose_density, compose_planes
from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids
from codec.field.synthetic import blob_grids
from codec.render.torch_renderer import ray_box, render_frame, render_rays

CFG = FieldConfig.nested(4, density_base=8, plane_base=8, channels=4, hidden=(16,))


def _blob_grids(seed: int = 0) -> FrameGrids:
    return blob_grids(CFG, seed)


def _rays(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    o = torch.randn(n, 3, generator=g)
    o = o / o.norm(dim=-1, keepdim=True) * 3.0
    target = (torch.rand(n, 3, generator=g) - 0.5) * 1.2
    d = target - o
    return o, d / d.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("lod", [1, 2, 3, 4])
def test_skipping_equals_dense(lod: int) -> None:
    grids = _blob_grids().at_lod(lod)
    o, d = _rays(3000)
    bg = torch.tensor([0.2, 0.5, 0.9])
    skip = render_frame(grids, o, d, bg, use_occupancy=True)
    dense = render_frame(grids, o, d, bg, use_occupancy=False)
    assert skip.samples < dense.samples  # it did skip something
    assert (skip.rgb - dense.rgb).abs().max() < 1e-4
    assert (skip.alpha - dense.alpha).abs().max() < 1e-4
    assert skip.alpha.max() > 0.5  # the blob is actually hit


def test_ray_misses_box_gives_background() -> None:
    grids = _blob_grids()
    o = torch.tensor([[0.0, 5.0, 0.0]])
    d = torch.tensor([[1.0, 0.0, 0.0]])
    t0, t1 = ray_box(o, d, grids.aabb)
    assert t1 <= t0
    bg = torch.tensor([0.1, 0.2, 0.3])
    out = render_frame(grids, o, d, bg)
    assert torch.allclose(out.rgb[0], bg) and out.alpha[0] == 0


def test_lower_lod_takes_fewer_samples() -> None:
    grids = _blob_grids()
    o, d = _rays(500)
    counts = [render_frame(grids.at_lod(lvl), o, d, torch.ones(3), use_occupancy=False).samples
              for lvl in (1, 2, 3, 4)]
    assert counts == sorted(counts) and counts[0] * 4 < counts[-1]


def test_step_floor_densifies_only_the_coarse_lods() -> None:
    grids = _blob_grids()
    floored = replace(grids, params=replace(grids.params, step_floor_res=CFG.density_res[2]))
    o, d = _rays(500)

    def samples(g: FrameGrids, lod: int) -> int:
        return render_frame(g.at_lod(lod), o, d, torch.ones(3), use_occupancy=False).samples

    assert samples(floored, 1) > 3 * samples(grids, 1)
    assert samples(floored, 3) == samples(grids, 3) and samples(floored, 4) == samples(grids, 4)
    # Skipping stays exact when the steps are finer than the occupancy cells.
    bg = torch.tensor([0.2, 0.5, 0.9])
    skip = render_frame(floored.at_lod(1), o, d, bg, use_occupancy=True)
    dense = render_frame(floored.at_lod(1), o, d, bg, use_occupancy=False)
    assert skip.samples < dense.samples and (skip.rgb - dense.rgb).abs().max() < 1e-4


def test_gradients_reach_every_level() -> None:
    base = _blob_grids()
    dens = [t.clone().requires_grad_(True) for t in base.density]
    planes = [t.clone().requires_grad_(True) for t in base.planes]
    o, d = _rays(2000)
    out = render_rays(
        compose_density(dens), compose_planes(planes), base.mlp, base.aabb, base.params,
        o, d, torch.ones(3), jitter=torch.rand(o.shape[0]),
    )
    out.rgb.sum().backward()
    for lvl in range(4):
        assert dens[lvl].grad is not None and dens[lvl].grad.abs().sum() > 0, lvl
        assert planes[lvl].grad is not None and planes[lvl].grad.abs().sum() > 0, lvl


def test_composition_is_exact_for_nested_lattices() -> None:
    grids = _blob_grids()
    # Evaluating each level separately at random points and summing equals sampling the composite.
    u = torch.rand(1, 1, 1, 400, 3) * 2 - 1
    sep = sum(
        torch.nn.functional.grid_sample(dg[None, None], u, align_corners=True)
        for dg in grids.density
    )
    comp = torch.nn.functional.grid_sample(
        compose_density(grids.density)[None, None], u, align_corners=True
    )
    assert (sep - comp).abs().max() < 1e-4


def test_occupancy_bounds_every_corner() -> None:
    from codec.field.occupancy import occupancy_grid

    dens = torch.randn(9, 9, 9) * 4
    occ = occupancy_grid(dens, 0.05, CFG.render)
    ref = torch.nn.functional.max_pool3d(dens[None, None], 2, stride=1)[0, 0]
    expect = torch.nn.functional.softplus(ref + CFG.render.density_shift) * 0.05 >= 1e-6
    assert occ.shape == (8, 8, 8) and torch.equal(occ, expect)
