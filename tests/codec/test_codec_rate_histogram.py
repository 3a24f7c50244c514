"""The histogram rate model prices symbols like the coder, P densities over the GoF's P-frames."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from codec.encode.quantized import GofChains
from codec.encode.rate_hook import JointRateConfig, JointRateHook, estimate_bits
from codec.entropy.coder import block_flags, element_mask, encode_channels
from codec.entropy.rate_model import RateConfig, RateModel, fit_densities
from codec.entropy.tables import fit_table
from codec.quantize.closed_loop import quantize_frame, split_channels


def test_histogram_fit_is_the_coders_table_and_has_a_rate_gradient() -> None:
    gen = torch.Generator().manual_seed(5)
    model = RateModel(1, 1, RateConfig(tracks=1))
    y = torch.round(torch.randn(4000, generator=gen) * 1.5)
    y[:3] = torch.tensor([40.0, -55.0, 900.0])  # sparse tails: escapes in the coder's table
    i = model.index(False, 0, 0, 0)
    fit_densities(model, [(i, y)], 0, 0.0)
    bits = -torch.log2(model.likelihood(torch.tensor([i]), y[None]))
    table = fit_table(y.numpy().astype(np.int32))
    idx, escaped = table.index_of(y.numpy().astype(np.int32))
    inside = torch.from_numpy(idx != table.n)
    # Inside the table: exactly the coder's ideal code length.
    assert abs(float(bits[0][inside].sum()) - table.bits(idx[idx != table.n])) < 1e-3 * float(bits.sum())
    assert escaped.size == 3 and bool((bits[0][~inside] > 16).all())
    # Between integers the pmf is interpolated: a value pulled toward the mode costs less.
    v = torch.tensor([[1.3]], requires_grad=True)
    (-torch.log2(model.likelihood(torch.tensor([i]), v))).sum().backward()
    assert v.grad is not None and float(v.grad) > 0


def _coder_bytes(frames: list[tuple[torch.Tensor, torch.Tensor]], steps: list[float]) -> int:
    """Frame-chunk bytes of one (track, level): I table on frame 0, one P table on the rest."""
    syms, prev = [], None
    for d, p in frames:
        cur = []
        out = []
        for c, v in enumerate(split_channels(d, p)):
            s, q = quantize_frame(v, steps[c], None if prev is None else prev[c])
            out.append(s.numpy())
            cur.append(q)
        syms.append(out)
        prev = cur

    def table(group: list[list[np.ndarray]], c: int):  # noqa: ANN202
        return fit_table(np.concatenate([f[c][element_mask(block_flags(f[c]), f[c].shape)] for f in group]))

    n = len(syms[0])
    tables_i = [table(syms[:1], c) for c in range(n)]
    tables_p = [table(syms[1:], c) for c in range(n)]
    return sum(len(encode_channels(f, tables_i if k == 0 else tables_p)[0]) for k, f in enumerate(syms))


def test_p_densities_cover_every_p_frame_and_the_estimate_matches_the_coder() -> None:
    gen = torch.Generator().manual_seed(6)
    model = RateModel(1, 3, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(refit_every=10))
    d0 = 3.0 * torch.randn(17, 17, 17, generator=gen)
    p0 = 0.5 * torch.randn(3, 2, 17, 17, generator=gen)
    # Two P-frames with very different residual scales: a density fitted to the last one only
    # would misprice the first.
    scales = [0.8, 0.05]
    chain = [(d0, p0)]
    for frame in range(3):
        is_key = frame == 0
        hook.prepare_frame(frame, is_key)
        base_d, base_p = (torch.zeros_like(d0), torch.zeros_like(p0)) if is_key else chain[-1]
        hook.bind(SimpleNamespace(base_density=[base_d], base_planes=[base_p]))
        if is_key:
            dd, dp = d0, p0
        else:
            s = scales[frame - 1]
            dd = s * torch.randn(17, 17, 17, generator=gen)
            dp = s * torch.randn(3, 2, 17, 17, generator=gen)
            chain.append((base_d + dd, base_p + dp))
        steps = 20
        for k in range(steps):
            hook.loss({("density", 0): dd, ("planes", 0): dp}, k / steps)
    table = model.steps_table().numpy()
    chains = GofChains([[d] for d, _ in chain], [[p] for _, p in chain], [], table)
    est = estimate_bits(model, chains, table) / 8
    for r in range(2):
        real = _coder_bytes(chain, [float(x) for x in table[r, 0]])
        assert abs(est[r] / real - 1.0) < 0.05, (r, est[r], real)
    # Checkpointed with the model: a restored hook holds the same finished-P histograms.
    other = JointRateHook(RateModel(1, 3, RateConfig(tracks=2)))
    other.load_state_arrays(hook.state_arrays())
    assert torch.equal(other.model.p_done, model.p_done) and float(model.p_done.sum()) > 0


def test_float_share_alternates_float_and_cycled_quantized_tracks() -> None:
    model = RateModel(1, 2, RateConfig(tracks=3))
    hook = JointRateHook(model, JointRateConfig(
        float_share=0.5, qat_tracks=None, p_rate_weight=None, p_rate_kinds=("density", "planes"),
        p_quantized=False, key_noise_tracks=()))  # the noise has its own test (test_codec_rate_hook)
    hook.prepare_frame(0, is_key=True)
    hook.bind(SimpleNamespace(base_density=[torch.zeros(5, 5, 5)], base_planes=[torch.zeros(3, 1, 5, 5)]))
    delta = torch.randn(5, 5, 5, generator=torch.Generator().manual_seed(7))
    seen, floats = [], 0
    for _ in range(12):
        out = hook.simulate("density", 0, delta)
        if hook.quantized_step:
            assert not torch.equal(out, delta)
            seen.append(hook.track)
        else:
            assert torch.equal(out, delta)
            floats += 1
        hook.counter += 1
    assert floats == 6 and seen == [0, 1, 2, 0, 1, 2]
    # P-frames supervise the float chain unless p_quantized (the rate term still prices them).
    hook.prepare_frame(1, is_key=False)
    hook.bind(SimpleNamespace(base_density=[delta], base_planes=[torch.zeros(3, 1, 5, 5)]))
    r = (0.4 * delta).requires_grad_(True)
    for _ in range(4):
        assert torch.equal(hook.simulate("density", 0, r), r)
        hook.loss({("density", 0): r}, 0.5).backward()
    assert r.grad is not None and r.grad.abs().sum() > 0


def test_quantized_steps_cycle_over_the_chosen_tracks_only() -> None:
    model = RateModel(1, 2, RateConfig(tracks=4))
    hook = JointRateHook(model, JointRateConfig(float_share=0.75, qat_tracks=(0, 1, 7)))
    hook.prepare_frame(0, is_key=True)
    seen = []
    for _ in range(16):
        if hook.quantized_step:
            seen.append(hook.track)
        hook.counter += 1
    # A quarter of the steps, alternating over the coarse tracks; a track the model lacks is
    # skipped rather than simulated.
    assert seen == [0, 1, 0, 1]
    single = JointRateHook(RateModel(1, 2, RateConfig(tracks=1)),
                           JointRateConfig(qat_tracks=(1,)))
    single.prepare_frame(0, is_key=True)
    for step in range(8):
        single.counter = step
        assert not single.quantized_step
    # The fixed-rate baseline's recipe: its own track on half the steps.
    own = JointRateHook(RateModel(1, 2, RateConfig(tracks=1)),
                        JointRateConfig(qat_tracks=(1,)).for_single_track())
    own.prepare_frame(0, is_key=True)
    flags = []
    for step in range(8):
        own.counter = step
        flags.append(own.quantized_step)
        assert own.track == 0
    assert sum(flags) == 4


def test_p_frames_can_have_their_own_simulated_rounding_recipe() -> None:
    model = RateModel(1, 2, RateConfig(tracks=4))
    hook = JointRateHook(model, JointRateConfig(
        float_share=0.75, qat_tracks=(0, 1), p_float_share=0.25, p_qat_tracks=(0, 1, 2)))

    def tracks_seen(frame: int, is_key: bool) -> list[int]:
        hook.prepare_frame(frame, is_key=is_key)
        seen = []
        for step in range(12):
            hook.counter = step
            if hook.quantized_step:
                seen.append(hook.track)
        return seen

    key, p = tracks_seen(0, True), tracks_seen(1, False)
    assert len(key) == 3 and set(key) == {0, 1}
    assert len(p) == 9 and set(p) == {0, 1, 2} and all(p.count(r) == 3 for r in (0, 1, 2))
    # The one-track recipe ignores the P-frame settings: its own track, half the steps.
    own = JointRateHook(RateModel(1, 2, RateConfig(tracks=1)), hook.config.for_single_track())
    own.prepare_frame(1, is_key=False)
    flags = []
    for step in range(8):
        own.counter = step
        flags.append(own.quantized_step)
    assert sum(flags) == 4


def test_p_frame_rate_gradient_only_moves_non_zero_symbols() -> None:
    model = RateModel(1, 2, RateConfig(tracks=2))
    hook = JointRateHook(model, JointRateConfig(
        rate_samples=0, p_rate_weight=None, p_rate_kinds=("density", "planes")))
    base = torch.randn(9, 9, 9, generator=torch.Generator().manual_seed(8))
    hook.prepare_frame(0, is_key=True)
    hook.bind(SimpleNamespace(base_density=[torch.zeros_like(base)], base_planes=[torch.zeros(3, 1, 9, 9)]))
    hook.loss({("density", 0): base}, 0.0)
    hook.prepare_frame(1, is_key=False)
    hook.bind(SimpleNamespace(base_density=[base], base_planes=[torch.zeros(3, 1, 9, 9)]))
    r = torch.zeros(9, 9, 9)
    r[:3] = 20.0 * torch.randn(3, 9, 9, generator=torch.Generator().manual_seed(9))
    r.requires_grad_(True)
    hook.loss({("density", 0): r}, 0.5).backward()
    assert float(r.grad[:3].abs().sum()) > 0  # non-zero symbols are pulled toward cheaper ones
    assert float(r.grad[3:].abs().max()) == 0.0  # zero residuals: no (noise-driven) rate gradient
