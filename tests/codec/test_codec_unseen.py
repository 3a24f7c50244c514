"""Unseen plane texels: the renderer's gradient never reaches them, and the hook zeroes them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from codec.encode.rate_hook import JointRateConfig, JointRateHook
from codec.encode.unseen import (
    density_threshold,
    prunable_density,
    raw_density_at,
    relaxed_density,
    seen_texels,
)
from codec.entropy.rate_model import RateConfig, RateModel
from codec.field.compose import compose_density, compose_planes
from codec.field.config import FieldConfig
from codec.field.mlp import init_mlp
from codec.field.occupancy import occupancy_grid, step_size
from codec.render.torch_renderer import render_rays

FIELD = FieldConfig(density_res=(5, 9), plane_res=(5, 9), channels=2, hidden=(8,))
AABB = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])


def _scene(gen: torch.Generator):
    """Two density levels, empty (-30) except a blob off-centre; random planes."""
    d0 = torch.full((5, 5, 5), -30.0)
    d0[1:3, 3:5, 0:2] = 6.0  # [z][y][x]: occupied corner region only
    d1 = 0.1 * torch.randn(9, 9, 9, generator=gen)
    planes = [torch.randn(3, 2, m, m, generator=gen) for m in FIELD.plane_res]
    return [d0, d1], planes


def _occupancy(density: list[torch.Tensor]) -> dict[int, torch.Tensor]:
    occ = {}
    for lod in (1, 2):
        comp = compose_density(density[:lod])
        occ[lod] = occupancy_grid(comp, step_size(AABB, comp.shape[-1], FIELD.render), FIELD.render)
    return occ


@pytest.mark.parametrize("plane_res", [(5, 9), (5, 7)])  # nested, and resampled (7 not in 5)
def test_texels_with_a_render_gradient_are_all_seen_and_most_are_not(plane_res) -> None:  # noqa: ANN001
    gen = torch.Generator().manual_seed(3)
    density, _ = _scene(gen)
    planes = [torch.randn(3, 2, m, m, generator=gen) for m in plane_res]
    occ = _occupancy(density)
    seen = seen_texels(occ, plane_res, margin=0)
    mlp = init_mlp(FIELD.feature_dim + FIELD.view_dim, FIELD.hidden, gen)
    grads = [torch.zeros_like(p) for p in planes]
    for lod in (1, 2):
        leaves = [p.clone().requires_grad_(True) for p in planes[:lod]]
        origins = torch.randn(3000, 3, generator=gen)
        origins = 3.0 * origins / origins.norm(dim=1, keepdim=True)
        target = 0.5 * torch.randn(3000, 3, generator=gen)
        dirs = target - origins
        dirs = dirs / dirs.norm(dim=1, keepdim=True)
        out = render_rays(
            compose_density(density[:lod]), compose_planes(leaves), mlp, AABB, FIELD.render,
            origins, dirs, torch.zeros(3), occupancy=occ[lod],
        )
        out.rgb.sum().backward()
        for g, leaf in zip(grads, leaves):
            g += leaf.grad.abs()
    for lvl, (g, keep) in enumerate(zip(grads, seen)):
        touched = (g.sum(1) > 0)
        assert touched.any(), f"level {lvl}: no ray reached the blob"
        assert not (touched & ~keep).any(), f"level {lvl}: a texel with a gradient is unseen"
        assert (~keep).float().mean() > 0.2, f"level {lvl}: the blob should leave texels unseen"
    # A margin only adds texels.
    wide = seen_texels(occ, plane_res, margin=1)
    assert all((w | s).equal(w) and w.sum() > s.sum() for w, s in zip(wide, seen))
    # A level no LOD covers yet is left alone.
    assert seen_texels({1: occ[1]}, plane_res)[1].all()


def test_hook_zeroes_unseen_plane_values_on_the_i_frame_only() -> None:
    gen = torch.Generator().manual_seed(4)
    density, planes = _scene(gen)
    occ = _occupancy(density)
    seen = seen_texels(occ, FIELD.plane_res, margin=1)
    model = RateModel(2, 3, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(rate_samples=64, prune_every=5))
    params = SimpleNamespace(
        base_density=[torch.zeros_like(d) for d in density], base_planes=planes,
        delta_density=[d.clone().requires_grad_(True) for d in density],
        delta_planes=[torch.zeros_like(p).requires_grad_(True) for p in planes],
    )
    hook.begin_frame(0, is_key=True)
    hook.bind(params, occ)
    deltas = {("planes", i): params.delta_planes[i] for i in range(2)}
    hook.loss(deltas, 0.0)  # the I-frame rate has no gradient into the grids
    for lvl in range(2):
        value = planes[lvl] + params.delta_planes[lvl].detach()
        drop = ~seen[lvl][:, None].expand_as(value)
        assert drop.any() and (value[drop] == 0).all()
        assert torch.equal(value[~drop], planes[lvl][~drop])
    assert hook.pruned == sum(int((~s).sum()) * 2 for s in seen)
    # P-frames keep their values (their texels may be newly seen through motion).
    hook.begin_frame(1, is_key=False)
    p_params = SimpleNamespace(
        base_density=params.base_density, base_planes=planes,
        delta_density=params.delta_density,
        delta_planes=[torch.full_like(p, 0.5).requires_grad_(True) for p in planes],
    )
    hook.bind(p_params, occ)
    hook.loss({("planes", i): p_params.delta_planes[i] for i in range(2)}, 0.0)
    assert all((d == 0.5).all() for d in p_params.delta_planes)


def _carved_scene(gen: torch.Generator) -> list[torch.Tensor]:
    """A blob, and a finest level carrying the negative values hull carving writes in empty
    space (plus noise): the case `prunable_density` is for."""
    d0 = torch.full((5, 5, 5), -11.0)  # the threshold is about -8.4 on this lattice
    d0[1:3, 2:4, 1:3] = 6.0
    d1 = 0.3 * torch.randn(9, 9, 9, generator=gen)
    d1[6:, :, :] -= 3.0 + torch.rand(3, 9, 9, generator=gen)
    return [d0, d1]


def _occupied(levels: list[torch.Tensor], decode: list[float] | None = None) -> torch.Tensor:
    if decode is not None:
        levels = [torch.round(v / s) * s for v, s in zip(levels, decode)]
    comp = compose_density(levels)
    return occupancy_grid(comp, step_size(AABB, comp.shape[-1], FIELD.render), FIELD.render)


@pytest.mark.parametrize("previous", [False, True])
def test_pruned_density_leaves_every_occupancy_unchanged(previous: bool) -> None:
    gen = torch.Generator().manual_seed(5)
    levels = _carved_scene(gen)
    steps = [[4.0, 2.0], [1.0, 0.5]]
    thr = density_threshold(AABB, 9, FIELD.render)
    prev = levels[1] + 0.2 * torch.randn(9, 9, 9, generator=gen) if previous else None
    mask = prunable_density(levels, thr, steps, margin=1.0, previous=prev)
    assert mask.float().mean() > 0.2, "the carved empty space should be prunable"
    assert not mask.all()
    replacement = torch.zeros(9, 9, 9) if prev is None else prev
    pruned = [levels[0], torch.where(mask, replacement, levels[1])]
    assert not torch.equal(pruned[1], levels[1])
    assert torch.equal(_occupied(pruned), _occupied(levels))
    for track in steps:
        # The decoded track codes the replacement (0, or the previous frame's value: a zero
        # residual), so its occupancy is the one of the decoded pruned grid.
        assert torch.equal(_occupied(pruned, track), _occupied(levels, track))
    # Points next to an occupied cell are never touched.
    corner_points = compose_density(levels) >= thr
    assert not (mask & corner_points).any()


def _key_frame_hook(seed: int, **config) -> tuple[list[torch.Tensor], JointRateHook, SimpleNamespace]:
    """The carved scene as an I-frame's trainable deltas, and a 2-track hook over it."""
    gen = torch.Generator().manual_seed(seed)
    levels = _carved_scene(gen)
    planes = [torch.randn(3, 2, m, m, generator=gen) for m in FIELD.plane_res]
    model = RateModel(2, 3, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(rate_samples=64, prune_unseen=False, **config))
    params = SimpleNamespace(
        base_density=[torch.zeros_like(d) for d in levels], base_planes=planes,
        delta_density=[d.clone().requires_grad_(True) for d in levels],
        delta_planes=[torch.zeros_like(p).requires_grad_(True) for p in planes],
    )
    return levels, hook, params


def test_hook_prunes_the_finest_density_at_the_frame_end_only() -> None:
    levels, hook, params = _key_frame_hook(6, prune_density=True, relax_opacity=None)
    model, planes = hook.model, params.base_planes
    hook.begin_frame(0, is_key=True)
    hook.bind(params, _occupancy(levels), (AABB, FIELD.render))
    deltas = {("density", i): params.delta_density[i] for i in range(2)}
    hook.loss(deltas, 0.0)
    assert torch.equal(params.delta_density[1], levels[1]), "not the last step: untouched"
    hook.loss(deltas, 0.5)  # step 1 of 2: the last one
    steps = [[float(model.step(lv, r)[0]) for lv in range(2)] for r in range(2)]
    mask = prunable_density(levels, density_threshold(AABB, 9, FIELD.render), steps, 1.0)
    fine = params.delta_density[1].detach()
    assert mask.any() and (fine[mask] == 0).all() and torch.equal(fine[~mask], levels[1][~mask])
    assert hook.pruned_density == int((levels[1][mask] != 0).sum())
    # A P-frame keeps its previous values there: the residual becomes 0.
    hook.begin_frame(1, is_key=False)
    base = [lv.detach().clone() for lv in params.delta_density]
    p_params = SimpleNamespace(
        base_density=base, base_planes=planes,
        delta_density=[torch.full_like(d, -0.3).requires_grad_(True) for d in base],
        delta_planes=[torch.zeros_like(p).requires_grad_(True) for p in planes],
    )
    hook.bind(p_params, _occupancy(levels))
    p_deltas = {("density", i): p_params.delta_density[i] for i in range(2)}
    hook.loss(p_deltas, 0.0)
    hook.loss(p_deltas, 0.5)
    residual = p_params.delta_density[1].detach()
    assert (residual == 0).any() and ((residual == 0) | (residual == -0.3)).all()
    assert (p_params.delta_density[0].detach() == -0.3).all(), "coarser levels untouched"


@pytest.mark.parametrize("previous", [False, True])
def test_relaxed_density_keeps_transparent_points_under_the_ceiling(previous: bool) -> None:
    gen = torch.Generator().manual_seed(7)
    levels = _carved_scene(gen)
    ceiling = 0.0
    coarse = compose_density(levels) - levels[1]
    prev = levels[1] + 0.5 * torch.randn(9, 9, 9, generator=gen) if previous else None
    fine = relaxed_density(levels, ceiling, prev)
    before, after = coarse + levels[1], coarse + fine
    under = before < ceiling
    assert torch.equal(fine[~under], levels[1][~under]), "points over the ceiling untouched"
    assert (after[under] <= ceiling).all(), "no point crosses the ceiling"
    changed = fine != levels[1]
    assert changed.float().mean() > 0.2, "the carved empty space should relax"
    if prev is None:
        # The value nearest 0 that keeps the point under the ceiling.
        assert (fine[changed] <= 0).all() and (fine[changed].abs() < levels[1][changed].abs()).all()
        assert (fine[under & (coarse < ceiling)] == 0).all()
    else:
        keep_prev = under & (coarse + prev < ceiling)
        assert keep_prev.any() and torch.equal(fine[keep_prev], prev[keep_prev])


def test_hook_relaxes_the_finest_density_at_the_frame_end_only() -> None:
    levels, hook, params = _key_frame_hook(8, prune_density=False, relax_opacity=1e-3)
    hook.begin_frame(0, is_key=True)
    hook.bind(params, None, (AABB, FIELD.render))
    deltas = {("density", i): params.delta_density[i] for i in range(2)}
    hook.loss(deltas, 0.0)
    assert torch.equal(params.delta_density[1], levels[1]), "not the last step: untouched"
    hook.loss(deltas, 0.5)  # step 1 of 2: the last one
    ceiling = raw_density_at(AABB.double(), 9, FIELD.render, 1e-3)
    assert density_threshold(AABB, 9, FIELD.render) < ceiling < 0.0
    expect = relaxed_density(levels, ceiling)
    assert torch.equal(params.delta_density[1].detach(), expect)
    assert hook.relaxed_density == int((expect != levels[1]).sum()) > 0
    assert torch.equal(params.delta_density[0].detach(), levels[0]), "coarser levels untouched"
