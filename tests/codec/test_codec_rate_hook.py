"""The joint-rate hook simulates exactly what the coder reconstructs, and trains the right things."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from codec.encode.rate_hook import JointRateConfig, JointRateHook
from codec.entropy.rate_model import RateConfig, RateModel
from codec.quantize.closed_loop import ChainQuantizer


def test_hook_reconstruction_matches_the_coder_on_p_frames() -> None:
    gen = torch.Generator().manual_seed(0)
    model = RateModel(1, 3, RateConfig(tracks=3))
    hook = JointRateHook(model, JointRateConfig(
        rate_samples=100, float_share=0.0, p_float_share=0.0, p_quantized=True, p_rate_weight=None,
        p_rate_kinds=("density", "planes")))
    f_prev = (torch.randn(9, 9, 9, generator=gen), torch.randn(3, 2, 9, 9, generator=gen))
    delta = (0.05 * torch.randn(9, 9, 9, generator=gen), 0.02 * torch.randn(3, 2, 9, 9, generator=gen))
    params = SimpleNamespace(base_density=[f_prev[0]], base_planes=[f_prev[1]])
    hook.begin_frame(1, is_key=False)
    hook.bind(params)
    assert all(not p.requires_grad for p in (model.log_gain, model.log_base_step))
    r = hook.track
    steps = [float(s) for s in model.step(0, r)]
    quant = ChainQuantizer(steps)
    quant.push(*f_prev)
    _, (d_ref, p_ref) = quant.push(f_prev[0] + delta[0], f_prev[1] + delta[1])
    with torch.no_grad():
        d_sim = f_prev[0] + hook.simulate("density", 0, delta[0])
        p_sim = f_prev[1] + hook.simulate("planes", 0, delta[1])
    assert torch.allclose(d_sim, d_ref, atol=1e-5) and torch.allclose(p_sim, p_ref, atol=1e-5)
    # The rate term reaches the residuals, not the frozen steps (densities: refits only).
    dd = delta[0].clone().requires_grad_(True)
    loss = hook.loss({("density", 0): dd}, 0.5)
    loss.backward()
    assert dd.grad is not None and dd.grad.abs().sum() > 0
    assert model.log_gain.grad is None
    assert hook.track != r  # the supervised track cycles


def test_hook_trains_gains_on_the_i_frame_and_checkpoints() -> None:
    model = RateModel(1, 2, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(train_steps=True))
    params = SimpleNamespace(base_density=[torch.zeros(5, 5, 5)], base_planes=[torch.zeros(3, 1, 5, 5)])
    hook.begin_frame(0, is_key=True)
    hook.bind(params)
    d = torch.randn(5, 5, 5, requires_grad=True)
    hook.loss({("density", 0): d}, 0.0).backward()
    assert model.log_gain.grad is not None and model.log_gain.grad.abs().sum() > 0
    state = hook.state_arrays()
    other = JointRateHook(RateModel(1, 2, RateConfig(tracks=2)))
    with torch.no_grad():
        model.log_gain += 0.3
    other.load_state_arrays(hook.state_arrays())
    assert torch.equal(other.model.log_gain, model.log_gain)
    assert other.counter == hook.counter and "rate.counter" in state


def test_key_rate_kinds_price_i_frame_planes_on_their_real_symbols() -> None:
    gen = torch.Generator().manual_seed(5)
    model = RateModel(1, 3, RateConfig(tracks=2))
    base = (torch.zeros(9, 9, 9), torch.zeros(3, 2, 9, 9))
    params = SimpleNamespace(base_density=[base[0]], base_planes=[base[1]])
    grads = {}
    for kinds in ((), ("planes",)):
        hook = JointRateHook(model, JointRateConfig(rate_samples=0, key_rate_kinds=kinds))
        hook.begin_frame(0, is_key=True)
        hook.bind(params)
        dd = torch.randn(9, 9, 9, generator=gen).requires_grad_(True)
        dp = (0.3 * torch.randn(3, 2, 9, 9, generator=gen)).requires_grad_(True)
        loss = hook.loss({("density", 0): dd, ("planes", 0): dp}, 0.5)
        if loss.requires_grad:
            loss.backward()
        grads[kinds] = (dd.grad, dp.grad, dp.detach())
    assert grads[()][0] is None and grads[()][1] is None  # the default: no gradient into grids
    dd_grad, dp_grad, dp = grads[("planes",)]
    assert dd_grad is None  # density not listed: still detached
    # Gradient only where some track's symbol is non-zero (the finest step decides).
    finest = model.step(0, 1)[1:].detach().view(1, -1, 1, 1)
    dead = torch.round(dp / finest) == 0
    assert dp_grad[dead].abs().max() == 0 and dp_grad[~dead].abs().sum() > 0


def test_ste_live_only_passes_gradient_through_non_zero_symbols_only() -> None:
    gen = torch.Generator().manual_seed(6)
    model = RateModel(1, 3, RateConfig(tracks=1))
    params = SimpleNamespace(base_density=[torch.zeros(9, 9, 9)], base_planes=[torch.zeros(3, 2, 9, 9)])
    out = {}
    for live in (False, True):
        hook = JointRateHook(model, JointRateConfig(float_share=0.0, ste_live_only=live))
        hook.begin_frame(0, is_key=True)
        hook.bind(params)
        delta = (2.0 * torch.randn(3, 2, 9, 9, generator=gen)).requires_grad_(True)
        sim = hook.simulate("planes", 0, delta)
        sim.sum().backward()
        out[live] = (delta.detach(), delta.grad, sim.detach())
    step = model.step(0, 0)[1:].detach().view(1, -1, 1, 1)
    d, g, sim = out[True]
    zero = torch.round(d / step) == 0
    assert zero.any() and (~zero).any()
    assert torch.allclose(sim, torch.round(d / step) * step)  # same forward as plain STE
    assert (g[zero] == 0).all() and (g[~zero] == 1).all()
    assert (out[False][1] == 1).all()


def test_qat_start_keeps_early_steps_on_the_float_chain_and_survives_a_checkpoint() -> None:
    model = RateModel(1, 3, RateConfig(tracks=2))
    params = SimpleNamespace(base_density=[torch.zeros(5, 5, 5)], base_planes=[torch.zeros(3, 2, 5, 5)])
    cfg = JointRateConfig(rate_samples=16, float_share=0.0, qat_start=0.5, refit_every=0)
    hook = JointRateHook(model, cfg)
    hook.begin_frame(0, is_key=True)
    hook.bind(params)
    deltas = {("planes", 0): torch.zeros(3, 2, 5, 5)}
    steps, seen = 10, []
    for i in range(steps):
        if i == 7:  # resume mid-frame from the hook's saved state
            state = hook.state_arrays()
            hook = JointRateHook(model, cfg)
            hook.load_state_arrays(state)
            hook.begin_frame(0, is_key=True)
            hook.bind(params)
        seen.append(hook.quantized_step)
        hook.loss(deltas, i / steps)
    assert seen == [False] * 5 + [True] * 5


def test_p_rate_kinds_price_only_the_chosen_kinds_of_p_frames() -> None:
    gen = torch.Generator().manual_seed(7)
    f_prev = (torch.randn(9, 9, 9, generator=gen), torch.randn(3, 2, 9, 9, generator=gen))
    grads = {}
    for kinds, weight in ((("planes",), 1e-3), (("density", "planes"), 1e-3), (("planes",), 0.0)):
        model = RateModel(1, 3, RateConfig(tracks=2))
        hook = JointRateHook(model, JointRateConfig(rate_samples=0, p_rate_weight=weight,
                                                    p_rate_kinds=kinds))
        hook.begin_frame(1, is_key=False)
        hook.bind(SimpleNamespace(base_density=[f_prev[0]], base_planes=[f_prev[1]]))
        dd = (0.5 * torch.randn(9, 9, 9, generator=gen)).requires_grad_(True)
        dp = (0.5 * torch.randn(3, 2, 9, 9, generator=gen)).requires_grad_(True)
        loss = hook.loss({("density", 0): dd, ("planes", 0): dp}, 0.5)
        if loss.requires_grad:
            loss.backward()
        grads[(kinds, weight)] = tuple(
            0.0 if t.grad is None else float(t.grad.abs().sum()) for t in (dd, dp))
    assert grads[(("planes",), 1e-3)][0] == 0.0 and grads[(("planes",), 1e-3)][1] > 0
    assert all(g > 0 for g in grads[(("density", "planes"), 1e-3)])
    assert grads[(("planes",), 0.0)] == (0.0, 0.0)


def test_sampled_zero_block_test_equals_the_whole_masks_at_the_sampled_elements() -> None:
    """`_sampled_keep` (every step) gives the booleans `_block_masks` (refit steps) has at the
    sampled elements, for I- and P-frames, density and planes, grids not a multiple of 8."""
    gen = torch.Generator().manual_seed(11)
    model = RateModel(1, 3, RateConfig(tracks=3))
    for frame, is_key in ((0, True), (1, False)):
        hook = JointRateHook(model, JointRateConfig(rate_samples=300))
        base_d, base_p = torch.randn(13, 13, 13, generator=gen), torch.randn(3, 2, 13, 13, generator=gen)
        if is_key:
            base_d, base_p = torch.zeros_like(base_d), torch.zeros_like(base_p)
        hook.begin_frame(frame, is_key=is_key)
        hook.bind(SimpleNamespace(base_density=[base_d], base_planes=[base_p]))
        # Sparse deltas: most 8^3 / 8x8 blocks round to zero at some tracks, not at others.
        dd = torch.randn(13, 13, 13, generator=gen) * (torch.rand(13, 13, 13, generator=gen) < 0.01)
        dp = torch.randn(3, 2, 13, 13, generator=gen) * (torch.rand(3, 2, 13, 13, generator=gen) < 0.02)
        deltas = {("density", 0): dd, ("planes", 0): dp}
        masks = hook._block_masks(deltas)
        some_dropped = False
        for (kind, level), delta in deltas.items():
            flat = hook._sample_index(kind, delta, gen)
            got = hook._sampled_keep(kind, level, delta, flat)
            for r in range(3):
                want = masks[(kind, level, r)][1].reshape(-1)[flat]
                assert torch.equal(got[r], want), (frame, kind, r)
                some_dropped |= bool((~want).any()) and bool(want.any())
        assert some_dropped


def test_sampled_zero_block_test_holds_at_the_rounding_boundary() -> None:
    """Blocks whose only non-zero value sits exactly at s/2 (rounds to 0, half to even) or
    one float above it (rounds to 1): the block-peak shortcut decides as the coder does."""
    model = RateModel(1, 3, RateConfig(tracks=3))
    hook = JointRateHook(model, JointRateConfig(rate_samples=0))
    hook.begin_frame(0, is_key=True)
    hook.bind(SimpleNamespace(base_density=[torch.zeros(24, 24, 24)],
                              base_planes=[torch.zeros(3, 2, 24, 24)]))
    dd = torch.zeros(24, 24, 24)
    for r in range(3):
        half = float(model.step(0, r)[0].detach()) / 2
        dd[8 * r, 0, 0] = half
        dd[8 * r, 8, 8] = -torch.nextafter(torch.tensor(half), torch.tensor(float("inf")))
    flat = hook._sample_index("density", dd, torch.Generator().manual_seed(0))
    masks = hook._block_masks({("density", 0): dd})
    got = hook._sampled_keep("density", 0, dd, flat)
    for r in range(3):
        assert torch.equal(got[r], masks[("density", 0, r)][1].reshape(-1)[flat])
    assert not masks[("density", 0, 0)][1][0, 0, 0] and masks[("density", 0, 0)][1][0, 8, 8]


def test_key_noise_tracks_perturb_the_i_frame_float_steps_within_half_a_bin() -> None:
    """Float steps of the I-frame see the chain plus uniform noise of the chosen track's bin
    (deterministic per step); quantized steps, P-frames and one-track models do not."""
    gen = torch.Generator().manual_seed(3)
    model = RateModel(1, 3, RateConfig(tracks=3))
    cfg = JointRateConfig(float_share=1.0, key_noise_tracks=(2,))
    assert cfg.for_single_track().key_noise_tracks == ()
    assert cfg.for_single_track().key_rate_kinds == ("planes",)  # measured: density hurt them
    # The fixed-rate baseline trains at the shared model's γ: a like-for-like comparison.
    assert cfg.for_single_track().rate_weight == cfg.rate_weight
    assert cfg.for_single_track().p_rate_weight == cfg.p_rate_weight
    base = SimpleNamespace(base_density=[torch.zeros(9, 9, 9)], base_planes=[torch.zeros(3, 2, 9, 9)])
    delta = torch.randn(3, 2, 9, 9, generator=gen)
    hook = JointRateHook(model, cfg)
    hook.begin_frame(0, is_key=True)
    hook.bind(base)
    assert not hook.quantized_step
    noisy = hook.simulate("planes", 0, delta)
    again = hook.simulate("planes", 0, delta)
    step = model.step(0, 2)[1:].detach().view(1, -1, 1, 1)
    assert torch.equal(noisy, again) and not torch.equal(noisy, delta)
    assert ((noisy - delta).abs() <= step / 2).all()
    p_hook = JointRateHook(model, JointRateConfig(p_float_share=1.0, key_noise_tracks=(2,)))
    p_hook.begin_frame(1, is_key=False)
    p_hook.bind(base)
    assert torch.equal(p_hook.simulate("planes", 0, delta), delta)


def test_track_rate_power_scales_each_tracks_rate_gradient_by_its_step_ratio() -> None:
    gen = torch.Generator().manual_seed(11)
    f_prev = (torch.zeros(9, 9, 9), torch.zeros(3, 2, 9, 9))
    dp0 = 0.5 * torch.randn(3, 2, 9, 9, generator=gen)
    grads = {}
    for power in (0.0, 1.0):
        model = RateModel(1, 3, RateConfig(tracks=2))
        hook = JointRateHook(model, JointRateConfig(rate_samples=0, track_rate_power=power))
        hook.begin_frame(1, is_key=False)
        hook.bind(SimpleNamespace(base_density=[f_prev[0]], base_planes=[f_prev[1]]))
        dp = dp0.clone().requires_grad_(True)
        hook.loss({("planes", 0): dp}, 0.5).backward()
        grads[power] = dp.grad
    coarse, fine = (model.step(0, r)[1:].detach().view(1, -1, 1, 1) for r in (0, 1))
    only_fine = (torch.round(dp0 / coarse) == 0) & (torch.round(dp0 / fine) != 0)
    assert only_fine.sum() > 20 and grads[0.0][only_fine].abs().min() > 0
    # Steps 1 : 1/2.5, so w = (1, 0.4) / 0.7: the fine track's pull shrinks to 0.4 / 0.7.
    ratio = grads[1.0][only_fine] / grads[0.0][only_fine]
    torch.testing.assert_close(ratio, torch.full_like(ratio, 0.4 / 0.7))


def test_p_compress_start_trains_a_p_frames_first_steps_as_without_rate() -> None:
    """Before `p_compress_start` a P-frame sees the float chain and its residuals get no rate
    gradient; afterwards both come on. I-frames are untouched."""
    gen = torch.Generator().manual_seed(3)
    f_prev = (torch.randn(9, 9, 9, generator=gen), torch.randn(3, 2, 9, 9, generator=gen))
    cfg = JointRateConfig(rate_samples=0, p_float_share=0.0, p_compress_start=0.4, refit_every=0)
    hook = JointRateHook(RateModel(1, 3, RateConfig(tracks=2)), cfg)
    hook.begin_frame(1, is_key=False)
    hook.bind(SimpleNamespace(base_density=[f_prev[0]], base_planes=[f_prev[1]]))
    steps, quantized, priced = 10, [], []
    for i in range(steps):
        dp = (0.5 * torch.randn(3, 2, 9, 9, generator=gen)).requires_grad_(True)
        quantized.append(hook.quantized_step)
        loss = hook.loss({("planes", 0): dp}, i / steps)
        if loss.requires_grad:
            loss.backward()
        priced.append(dp.grad is not None and float(dp.grad.abs().sum()) > 0)
    assert quantized == [False] * 4 + [True] * 6
    assert priced == [False] * 4 + [True] * 6
    key = JointRateHook(RateModel(1, 3, RateConfig(tracks=2)),
                        JointRateConfig(float_share=0.0, p_compress_start=0.9, refit_every=0))
    key.begin_frame(0, is_key=True)
    key.bind(SimpleNamespace(base_density=[torch.zeros(5, 5, 5)],
                             base_planes=[torch.zeros(3, 2, 5, 5)]))
    assert key.quantized_step
