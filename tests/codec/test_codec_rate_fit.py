"""The learned rate model tracks the coder: refitted densities and zero-block accounting."""

from __future__ import annotations

import numpy as np
import torch

from codec.encode.quantized import GofChains
from codec.encode.rate_hook import estimate_bits
from codec.entropy.coder import block_flags, element_mask, encode_channels
from codec.entropy.rate_model import RateConfig, RateModel, fit_densities
from codec.entropy.tables import fit_table
from codec.quantize.closed_loop import quantize_frame, split_channels


def _entropy_bits(y: torch.Tensor) -> float:
    _, counts = np.unique(y.numpy(), return_counts=True)
    p = counts / counts.sum()
    return float(-(counts * np.log2(p)).sum())


def test_fit_densities_reaches_the_empirical_entropy_and_touches_only_its_densities() -> None:
    gen = torch.Generator().manual_seed(1)
    model = RateModel(2, 3, RateConfig(tracks=2, density="network"))
    untouched = model.index(False, 0, 0, 0)
    before = [p.detach()[untouched].clone() for p in model.matrices]
    a = torch.round(torch.randn(5000, generator=gen) * 0.6)
    b = torch.round(torch.randn(3000, generator=gen) * 4.0 + 2.0)
    ia, ib = model.index(True, 1, 1, 2), model.index(False, 1, 0, 1)
    fit_densities(model, [(ia, a), (ib, b)], 150, 0.02)
    for i, y in ((ia, a), (ib, b)):
        bits = float(-torch.log2(model.likelihood(torch.tensor([i]), y[None])).sum())
        assert bits < 1.05 * _entropy_bits(y), (bits, _entropy_bits(y))
    assert all(torch.equal(p.detach()[untouched], q) for p, q in zip(model.matrices, before))


def test_estimate_counts_flags_and_nonzero_blocks_only() -> None:
    gen = torch.Generator().manual_seed(2)
    # One level: density 17^3 and planes (3, 2, 17, 17), non-zero only in one corner block each.
    density = torch.zeros(17, 17, 17)
    density[:8, :8, :8] = 1.2 * torch.randn(8, 8, 8, generator=gen)
    planes = torch.zeros(3, 2, 17, 17)
    planes[:, :, :8, :8] = 0.8 * torch.randn(3, 2, 8, 8, generator=gen)
    chains = GofChains([[density]], [[planes]], [], np.ones((1, 1, 3), np.float32))
    model = RateModel(1, 3, RateConfig(tracks=1))
    syms = [quantize_frame(v, 1.0, None)[0] for v in split_channels(density, planes)]
    # Fit on the coded symbols (inside non-zero blocks = here the corner blocks, zeros included).
    items = [(model.index(False, 0, 0, 0), syms[0][:8, :8, :8])]
    items += [(model.index(False, 0, 0, c + 1), syms[c + 1][:, :8, :8]) for c in range(2)]
    fit_densities(model, items, 200, 0.02)
    est = estimate_bits(model, chains, chains.steps)[0] / 8
    naive = estimate_bits(model, chains, chains.steps, zero_blocks=False)[0] / 8
    arrays = [s.numpy() for s in syms]
    tables = [fit_table(a[element_mask(block_flags(a), a.shape)]) for a in arrays]
    payload, _ = encode_channels(arrays, tables)
    assert abs(est - len(payload)) < 0.15 * len(payload), (est, len(payload))
    assert naive > est


def test_fixed_ladder_keeps_the_steps_and_still_prices_the_residuals() -> None:
    from types import SimpleNamespace

    from codec.encode.rate_hook import JointRateConfig, JointRateHook

    model = RateModel(1, 2, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(
        train_steps=False, p_rate_weight=None, p_rate_kinds=("density", "planes")))
    hook.prepare_frame(0, is_key=True)
    assert not model.log_gain.requires_grad and hook.parameters() == []
    params = SimpleNamespace(base_density=[torch.zeros(9, 9, 9)], base_planes=[torch.zeros(3, 1, 9, 9)])
    hook.bind(params)
    d = torch.randn(9, 9, 9, generator=torch.Generator().manual_seed(3))
    hook.loss({("density", 0): d.requires_grad_(True)}, 0.0)
    hook.begin_frame(1, is_key=False)
    hook.bind(SimpleNamespace(base_density=[d.detach()], base_planes=[torch.zeros(3, 1, 9, 9)]))
    r = (0.3 * torch.randn(9, 9, 9, generator=torch.Generator().manual_seed(4))).requires_grad_(True)
    hook.loss({("density", 0): r}, 0.0).backward()
    assert r.grad is not None and r.grad.abs().sum() > 0
