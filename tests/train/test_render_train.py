"""The training renderer implements the same maths as the reference torch renderer."""

from __future__ import annotations

import pytest
import torch

from codec.field.compose import compose_density, compose_planes
from codec.field.config import FieldConfig
from codec.field.mlp import init_mlp
from codec.field.occupancy import occupancy_grid, step_size
from codec.render.torch_renderer import render_rays
from codec.train.render import occupied_box, render_train


def _random_field(seed: int, density_res: tuple[int, ...] = (5, 9, 17)):
    g = torch.Generator().manual_seed(seed)
    cfg = FieldConfig(density_res=density_res, plane_res=(9, 17, 33), channels=4, hidden=(16,))
    dens = [torch.randn(n, n, n, generator=g) * 3 for n in cfg.density_res]
    # A blob in the middle so that some cells are empty and skipping matters.
    n = cfg.density_res[0]
    u = torch.linspace(-1, 1, n)
    z, y, x = torch.meshgrid(u, u, u, indexing="ij")
    dens[0] = dens[0] + torch.where(x**2 + y**2 + z**2 < 0.5, 6.0, -12.0)
    planes = [torch.randn(3, cfg.channels, m, m, generator=g) for m in cfg.plane_res]
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, g)
    return cfg, dens, planes, mlp, g


def _rays_at_the_centre(g: torch.Generator, n_rays: int = 200):
    """Origins on a sphere of radius 3 aimed near the centre; jitter, backgrounds and the
    per-channel weights of a random linear loss on the rendered colours."""
    origins = torch.randn(n_rays, 3, generator=g)
    origins = origins / origins.norm(dim=1, keepdim=True) * 3.0
    dirs = torch.randn(n_rays, 3, generator=g) * 0.2 - origins
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    jitter = torch.rand(n_rays, generator=g)
    bg = torch.rand(n_rays, 3, generator=g)
    weights = torch.randn(n_rays, 3, generator=g)
    return origins, dirs, jitter, bg, weights


@pytest.mark.parametrize("density_res", [(5, 9, 17), (9, 9, 17)])  # (9, 9): a repeated lattice
def test_render_train_matches_reference_at_every_lod(density_res):
    cfg, dens, planes, mlp, g = _random_field(0, density_res)
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    n_rays = 300
    origins = torch.randn(n_rays, 3, generator=g)
    origins = origins / origins.norm(dim=1, keepdim=True) * 3.0
    target = torch.randn(n_rays, 3, generator=g) * 0.3
    dirs = target - origins
    dirs = dirs / dirs.norm(dim=1, keepdim=True)
    jitter = torch.rand(n_rays, generator=g)
    bg = torch.rand(n_rays, 3, generator=g)
    for lod in (1, 2, 3):
        d = compose_density(dens[:lod])
        p = compose_planes(planes[:lod])
        occ = occupancy_grid(d, step_size(aabb, d.shape[-1], cfg.render), cfg.render)
        assert 0 < occ.float().mean() < 1
        ref = render_rays(d, p, mlp, aabb, cfg.render, origins, dirs, bg, occupancy=occ,
                          jitter=jitter)
        rgb, alpha = render_train(dens[:lod], planes[:lod], mlp, aabb, cfg.render, origins, dirs,
                                  bg, occ, jitter, occupied_box(occ, aabb))
        assert torch.allclose(alpha, ref.alpha, atol=1e-4), (lod, (alpha - ref.alpha).abs().max())
        assert torch.allclose(rgb, ref.rgb, atol=1e-4), (lod, (rgb - ref.rgb).abs().max())


def test_empty_occupancy_renders_background():
    cfg, dens, planes, mlp, g = _random_field(1)
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    occ = torch.zeros(16, 16, 16, dtype=torch.bool)
    origins = torch.tensor([[0.0, 0.0, 3.0]])
    dirs = torch.tensor([[0.0, 0.0, -1.0]])
    bg = torch.tensor([0.2, 0.4, 0.6])
    rgb, alpha = render_train(dens, planes, mlp, aabb, cfg.render, origins, dirs, bg, occ,
                              torch.zeros(1), occupied_box(occ, aabb))
    assert alpha.item() == 0.0 and torch.allclose(rgb[0], bg)


def test_render_train_gradients_match_reference():
    """Dropping the samples past early termination from the graph leaves every gradient as is."""
    cfg, dens, planes, mlp, g = _random_field(2)
    dens[0] = torch.where(dens[0] > 0, dens[0] + 8.0, dens[0])  # opaque core: rays terminate
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    origins, dirs, jitter, bg, weights = _rays_at_the_centre(g)
    d_ref = [t.clone().requires_grad_(True) for t in dens]
    p_ref = [t.clone().requires_grad_(True) for t in planes]
    d_fast = [t.clone().requires_grad_(True) for t in dens]
    p_fast = [t.clone().requires_grad_(True) for t in planes]
    with torch.no_grad():
        d = compose_density(dens)
        occ = occupancy_grid(d, step_size(aabb, d.shape[-1], cfg.render), cfg.render)
    ref = render_rays(compose_density(d_ref), compose_planes(p_ref), mlp, aabb, cfg.render,
                      origins, dirs, bg, occupancy=occ, jitter=jitter)
    (ref.rgb * weights).sum().backward()
    rgb, alpha = render_train(d_fast, p_fast, mlp, aabb, cfg.render, origins, dirs, bg, occ,
                              jitter, occupied_box(occ, aabb))
    assert float(alpha.detach().max()) > 0.99  # some rays do terminate early
    (rgb * weights).sum().backward()
    for a, b in zip(d_ref + p_ref, d_fast + p_fast):
        assert float(a.grad.abs().max()) > 0
        torch.testing.assert_close(b.grad, a.grad, atol=1e-4, rtol=1e-3)


def test_density_backward_reuses_the_no_grad_values_bit_for_bit():
    """`_DensityAt` returns the values it is given and the exact gradient autograd would give."""
    from codec.train.render import _DensityAt, _sample_density

    g = torch.Generator().manual_seed(5)
    levels = [torch.randn(n, n, n, generator=g, requires_grad=True) for n in (5, 5, 9, 17)]
    grid = torch.rand(3000, 3, generator=g) * 2 - 1
    upstream = torch.randn(3000, generator=g)
    ref = _sample_density(levels, grid)
    ref_grads = torch.autograd.grad(ref, levels, upstream)
    with torch.no_grad():
        values = _sample_density(levels, grid)
    got = _DensityAt.apply(values, grid.view(1, 1, 1, -1, 3), *levels)
    got_grads = torch.autograd.grad(got, levels, upstream)
    assert torch.equal(got.detach(), ref.detach())
    for a, b in zip(ref_grads, got_grads):
        assert torch.equal(a, b)


def test_frozen_levels_out_of_the_graph_leave_the_trainable_gradients_bit_for_bit():
    """The trainer detaches frozen levels (and a frozen MLP): the finest level's gradient is
    the very same tensor it gets with every level in the graph."""
    cfg, dens, planes, mlp, g = _random_field(3, (9, 9, 17))
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    origins, dirs, jitter, bg, weights = _rays_at_the_centre(g)
    with torch.no_grad():
        d = compose_density(dens)
        occ = occupancy_grid(d, step_size(aabb, d.shape[-1], cfg.render), cfg.render)
    grads = []
    for frozen_out in (False, True):
        d_in = [t.clone().requires_grad_(True) for t in dens]
        p_in = [t.clone().requires_grad_(True) for t in planes]
        m_in = [(w.clone().requires_grad_(True), b.clone().requires_grad_(True)) for w, b in mlp]
        if frozen_out:
            d_use = [t.detach() for t in d_in[:-1]] + d_in[-1:]
            p_use = [t.detach() for t in p_in[:-1]] + p_in[-1:]
            m_use = [(w.detach(), b.detach()) for w, b in m_in]
        else:
            d_use, p_use, m_use = d_in, p_in, m_in
        rgb, _ = render_train(d_use, p_use, m_use, aabb, cfg.render, origins, dirs, bg, occ,
                              jitter, occupied_box(occ, aabb))
        (rgb * weights).sum().backward()
        if frozen_out:
            assert all(t.grad is None for t in d_in[:-1] + p_in[:-1])
            assert all(w.grad is None and b.grad is None for w, b in m_in)
        grads.append((d_in[-1].grad, p_in[-1].grad))
    assert float(grads[0][0].abs().max()) > 0 and float(grads[0][1].abs().max()) > 0
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])


def test_plane_sampling_split_by_channels_is_bit_for_bit_the_plain_grid_sample():
    """`_sample_planes` samples each plane's channel halves as separate batch items (for the
    CPU backward's threads): values and gradients are the plain call's, `torch.equal`."""
    import torch.nn.functional as F

    from codec.train.render import _sample_planes

    g = torch.Generator().manual_seed(7)
    levels = [torch.randn(3, 8, m, m, generator=g, requires_grad=True) for m in (9, 17)]
    grid = torch.rand(5000, 3, generator=g) * 2 - 1
    upstream = torch.randn(5000, 24, generator=g)
    planes = compose_planes(levels)
    coords = torch.stack((grid[:, [0, 1]], grid[:, [0, 2]], grid[:, [1, 2]]), dim=0)[:, None]
    plain = F.grid_sample(planes, coords, mode="bilinear", padding_mode="border",
                          align_corners=True)[:, :, 0].permute(2, 0, 1).reshape(-1, 24)
    got = _sample_planes(levels, grid)
    assert torch.equal(got, plain)
    for a, b in zip(torch.autograd.grad(plain, levels, upstream),
                    torch.autograd.grad(got, levels, upstream)):
        assert torch.equal(a, b)
