"""Closed-loop quantization: no drift, and the training simulation matches the coder."""

from __future__ import annotations

import torch

from codec.entropy.rate_model import RateConfig, RateModel, closed_loop_level, level_step_scales
from codec.quantize.closed_loop import ChainQuantizer, quantize_frame


def test_closed_loop_bound_every_frame() -> None:
    gen = torch.Generator().manual_seed(0)
    steps = [0.05, 0.013, 0.2]
    quant = ChainQuantizer(steps)
    density = torch.randn(9, 9, 9, generator=gen)
    planes = torch.randn(3, 2, 9, 9, generator=gen)
    for _ in range(30):
        # Residuals below half a step would be lost by an open-loop coder and drift away.
        density = density + 0.3 * steps[0] * torch.randn(9, 9, 9, generator=gen)
        planes = planes + 0.3 * steps[1] * torch.randn(3, 2, 9, 9, generator=gen)
        _, (d, p) = quant.push(density, planes)
        assert (d - density).abs().max() <= steps[0] / 2 * (1 + 1e-5)
        for c in range(2):
            assert (p[:, c] - planes[:, c]).abs().max() <= steps[1 + c] / 2 * (1 + 1e-5)


def test_symbols_accumulate_to_state() -> None:
    v1, v2 = torch.tensor([0.31, -1.2, 5.0]), torch.tensor([0.4, -1.0, 4.1])
    s1, q1 = quantize_frame(v1, 0.1, None)
    s2, q2 = quantize_frame(v2, 0.1, q1)
    assert torch.equal(s1, q1) and torch.equal(q1 + s2, q2)
    assert q2.dtype == torch.int32


def test_training_simulation_matches_coder_symbols() -> None:
    """With straight-through rounding, closed_loop_level reconstructs exactly s*Q_t."""
    model = RateModel(levels=1, channels=3)
    gen = torch.Generator().manual_seed(3)
    f1 = (torch.randn(5, 5, 5, generator=gen), torch.randn(3, 2, 5, 5, generator=gen))
    f2 = (f1[0] + 0.1 * torch.randn(5, 5, 5, generator=gen), f1[1] + 0.05)
    steps = [float(s) for s in model.step(0, 1).detach()]
    quant = ChainQuantizer(steps)
    _, rec1 = quant.push(*f1)
    _, rec2 = quant.push(*f2)
    with torch.no_grad():
        sim = closed_loop_level(model, 0, 1, True, f2[0], f2[1], rec1[0], rec1[1], mode="ste")
    assert torch.allclose(sim.density, rec2[0], atol=1e-6)
    assert torch.allclose(sim.planes, rec2[1], atol=1e-6)


def test_rate_model_learns_and_reaches_gains() -> None:
    model = RateModel(levels=1, channels=1, config=RateConfig(density="network"))
    gen = torch.Generator().manual_seed(0)
    x = torch.distributions.Laplace(0.0, 2.0).sample((1500,))
    opt = torch.optim.Adam(model.parameters(), lr=6e-3)
    first = None
    for _ in range(100):
        opt.zero_grad()
        bits = model.bits(0, 0, False, 0, x + torch.rand(x.shape, generator=gen) - 0.5)
        bits.backward()
        opt.step()
        first = first if first is not None else bits.item()
    rounded = x.round()
    _, counts = torch.unique(rounded, return_counts=True)
    p = counts.double() / counts.sum()
    entropy = float(-(p * p.log2()).sum()) * x.numel()
    with torch.no_grad():
        learned = float(model.bits(0, 0, False, 0, rounded))
    assert learned < first
    assert abs(learned - entropy) / entropy < 0.05
    # The rate of a closed-loop level depends on the gain through the step.
    f = torch.randn(5, 5, 5, generator=gen)
    out = closed_loop_level(model, 0, 0, False, f, torch.randn(3, 0, 5, 5), mode="noise")
    out.bits.backward()
    assert model.log_gain.grad is not None and model.log_gain.grad.abs().sum() > 0


def test_level_step_scales_widen_the_finer_lattices_steps() -> None:
    scales = level_step_scales((25, 25, 49, 97), (65, 81, 97, 129), 0.5)
    assert scales[0] == (1.0, 1.0) and scales[1][0] == 1.0
    assert abs(scales[3][0] - (97 / 25) ** 0.5) < 1e-12
    assert abs(scales[2][1] - (97 / 65) ** 0.5) < 1e-12
    assert level_step_scales((25, 49), (65, 97), 0.0) == [(1.0, 1.0), (1.0, 1.0)]
    plain = RateModel(2, 3, RateConfig(tracks=2)).steps_table()
    scaled = RateModel(2, 3, RateConfig(tracks=2), [(1.0, 1.0), (2.0, 1.5)]).steps_table()
    assert torch.equal(scaled[:, 0], plain[:, 0])
    assert torch.allclose(scaled[:, 1, 0], 2.0 * plain[:, 1, 0])
    assert torch.allclose(scaled[:, 1, 1:], 1.5 * plain[:, 1, 1:])
    # The track ladder is unchanged: every level keeps the same ratio between tracks.
    assert torch.allclose(scaled[0] / scaled[1], plain[0] / plain[1])
