"""Learned rate model for training: factorized non-parametric densities + quantization gains.

This is the *entropy model* (float, learned, differentiable). It is kept apart from the *coder*
(`codec.entropy.tables` / `codec.entropy.coder`), which codes with integer tables stored in the
file; the encoder fits those tables to the actual symbols, so nothing float-valued from this
module ever reaches the decoder. Its job is the rate term of the loss (VRVVC Eq. 6 / HPC Eq. 8).

One univariate density per (I/P, track, level, symbol channel). Two kinds (`RateConfig.density`):

* ``"histogram"`` (default): a non-parametric pmf over the integers -R..R, set by
  `fit_densities` exactly the way the coder fits its integer tables (`codec.entropy.tables`:
  same trimmed range, same 16-bit counts, escapes priced like the coder's raw varints), so the
  training's rate is the coder's ideal code length of the current symbols. Between integers the
  pmf is interpolated linearly, i.e. the cumulative is piecewise linear and
  P(y) = C(y + 1/2) - C(y - 1/2) is continuous and differentiable in y (the rate gradient).
  Measured on figure128 (docs/RATE.md): the network below stayed 1.14-1.25x over the real
  bytes even when fully converged (its capacity against the sharp real histograms).
* ``"network"``: in the style of Ballé et al.
2018 ("Variational image compression with a scale hyperprior", appendix 6.1): a monotone
cumulative c(x) = sigmoid(g(x)) with g a small per-density network whose matrices pass through
softplus (so g is increasing) and whose hidden layers add ``tanh(a) * tanh(h)``. The probability
of an integer symbol y is c(y + 1/2) - c(y - 1/2).

Steps (VRVVC's learned gains): track r, level l, channel c quantize with
``s[r, l, c] = base_step[l, c] / gain[r]`` where ``gain[r] = exp(log_gain[r])`` (bin width 1/a_r
in units of ``base_step``) and ``base_step = exp(log_base_step)``; both are learnable. Tracks are
ordered by rate: track 0 has the smallest gain (coarsest step, fewest bytes) and pairs with the
smallest Lagrange multiplier ``lambdas[0]``.

Typical use by the trainer (values of one channel, e.g. the density residual of level l)::

    s = model.step(level, track)[channel]                   # differentiable in the gains
    y = (F - prev_recon) / s                                # closed loop, in step units
    y_hat = noisy(y) if use_noise else ste_round(y)
    bits = model.bits(level, track, is_p, channel, y_hat)   # scalar, differentiable
    recon = prev_recon + s * y_hat
    loss = bits / pixels + lambdas[track] * mse(recon, F)

`level_bits` does the same for a whole level (density + planes) in one call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .tables import ESCAPE_BYTES, TOTAL, quantize_counts, trim_range

LIKELIHOOD_FLOOR = 1e-9
"""Lower bound on a symbol's probability (≈ 30 bits), so a far outlier cannot give inf bits."""


@dataclass(frozen=True)
class RateConfig:
    """Rate tracks and the shape of the learned densities."""

    tracks: int = 4
    """Number of rate tracks K (1..8); each is one (gain a_r, lambda_r) pair."""
    lambdas: tuple[float, ...] = ()
    """Lagrange multipliers per track, increasing; empty = geometric from lambda_min to lambda_max."""
    lambda_min: float = 2.2
    lambda_max: float = 5.3e2
    """With the rate in bits per element and D the feature MSE, the RD-optimal uniform step is
    about sqrt(8.66 / lambda): these pair lambda_r with the initial steps below."""
    gain_ratio: float = 2.5
    """Initial gain of track r is gain_ratio**r (each track divides the step by 2.5). Measured
    on figure128 (docs/RATE.md, session 4): with 3 the finest track (step 2/27) bought +0.2 dB
    for +70 % bytes in the jointly trained file, whose float chain saturates ~0.7 dB under the
    no-joint one; with 2.5 the joint file's points sit at 30.5-34.7 dB, where joint training
    pays more (equal-PSNR ratio against the no-joint file of the same ladder 0.59 / 0.54 / 0.62
    / 0.90 vs 0.59 / 0.54 / 0.63 / 0.98), the largest track still 4.4x the smallest in bytes
    (2.2, estimated by re-coding: 3.6x, under the issue's 4x)."""
    base_step: float = 2.0
    """Initial step of track 0 for the feature channels of every level, in feature units.
    Measured on figure128 (fast preset, post-training quantization sweep): feature steps below
    ~0.3 leave PSNR unchanged (+0.03 dB), 2.56 costs 5.6 dB at 40 % of the bytes; 2.0 with a
    ratio of 3 spanned ~4.5x in bytes from track 0 to track 3 with PSNR rising on every track."""
    density_step_factor: float = 6.0
    """The density's initial step is this multiple of the features' (raw density spans about
    -10..10 where features span about -1..1; measured on figure128: with one step for both, the
    density took most of the bytes at no visible gain)."""
    level_step_exponent: float = 0.67
    """Level l's initial steps are level 1's times (lattice points per axis of level l / of
    level 1) to this power, density and planes alike (`level_step_scales`; 0: one step for
    every level). A texel of a finer lattice spans less of the field, so its error costs less
    of the picture while the finest levels hold most of the elements. Measured on figure128
    (docs/RATE.md, session 11, seed 0): the shared model retrained with 0.67 needs 8.2 % fewer
    bytes over its full-LOD curve (0.8: 8.6 %, 0.1 dB less at the top track); the
    `--no-joint-rate` file 10-40 % fewer; the top track's full / level-1 bytes 4.8x -> 4.1x."""
    density: str = "histogram"
    """"histogram" (the coder's own table fit, see the module doc) or "network" (Ballé 2018)."""
    hist_radius: int = 512
    """Histogram support -R..R in symbols; values beyond count as escapes."""
    filters: tuple[int, ...] = (3, 3, 3)
    """Hidden widths of each cumulative network (Ballé 2018 uses 3, 3, 3)."""
    init_scale: float = 10.0
    """Initial spread of each density, in symbols."""
    param_scale: float = 5.0
    """The density networks' parameters are stored divided by this and multiplied back in use:
    Adam moves a parameter by ~lr per step, so this runs them at param_scale x the learning
    rate the trainer gives the rate group (the densities must follow the symbols within a
    frame's few hundred steps)."""

    def track_lambdas(self) -> tuple[float, ...]:
        if self.lambdas:
            if len(self.lambdas) != self.tracks:
                raise ValueError("lambdas needs one value per track")
            return tuple(self.lambdas)
        if self.tracks == 1:
            return (self.lambda_max,)
        r = (self.lambda_max / self.lambda_min) ** (1.0 / (self.tracks - 1))
        return tuple(self.lambda_min * r**i for i in range(self.tracks))


def noisy(y: torch.Tensor) -> torch.Tensor:
    """Additive uniform noise U(-1/2, 1/2): the differentiable proxy of rounding."""
    return y + (torch.rand_like(y) - 0.5)


def ste_round(y: torch.Tensor) -> torch.Tensor:
    """Round in the forward pass, identity gradient (straight-through estimator)."""
    return y + (torch.round(y) - y).detach()


@dataclass
class _Index:
    tracks: int
    levels: int
    channels: int

    def __call__(self, is_p: bool, track: int, level: int, channel: int) -> int:
        if not (0 <= track < self.tracks and 0 <= level < self.levels):
            raise IndexError(f"track {track} / level {level} out of range")
        return ((int(is_p) * self.tracks + track) * self.levels + level) * self.channels + channel


def level_step_scales(
    density_res: Sequence[int], plane_res: Sequence[int], exponent: float
) -> list[tuple[float, float]]:
    """(density, feature) step multiplier of each level: (n_l / n_1)^exponent and
    (m_l / m_1)^exponent (`RateConfig.level_step_exponent`)."""
    return [((n / density_res[0]) ** exponent, (m / plane_res[0]) ** exponent)
            for n, m in zip(density_res, plane_res)]


class RateModel(nn.Module):
    """Learned densities for every (I/P, track, level, symbol channel) plus the step gains.

    ``levels`` counts levels 0-based in this API (level index 0 = HPC level 1);
    ``channels`` is the number of *symbol* channels, i.e. 1 + feature channels C.
    """

    def __init__(
        self,
        levels: int,
        channels: int,
        config: RateConfig = RateConfig(),
        level_scales: Sequence[tuple[float, float]] | None = None,
    ) -> None:
        """``level_scales``: per level, (density, feature) multipliers of the initial steps
        (`level_step_scales`; None: 1 everywhere)."""
        super().__init__()
        if not 1 <= config.tracks <= 8:
            raise ValueError("tracks must be 1..8")
        self.config = config
        self.levels = levels
        self.channels = channels
        self.tracks = config.tracks
        self.index = _Index(config.tracks, levels, channels)
        n = 2 * config.tracks * levels * channels
        if config.density not in ("histogram", "network"):
            raise ValueError("density must be 'histogram' or 'network'")
        self.histogram = config.density == "histogram"
        width = 2 * config.hist_radius + 1
        if self.histogram:
            # Before the first fit: a discrete Laplace of scale init_scale (any density works:
            # the hook fits every density in play at the first step of a frame).
            k = torch.arange(width, dtype=torch.float32) - config.hist_radius
            pmf = torch.exp(-k.abs() / config.init_scale)
            self.register_buffer("hist_pmf", (pmf / pmf.sum()).repeat(n, 1))
            self.register_buffer("p_done", torch.zeros(n, width + 1))
            self.register_buffer("p_pending", torch.zeros(n, width + 1))
        dims = (1, *config.filters, 1) if not self.histogram else ()
        scale = config.init_scale ** (1.0 / (len(dims) - 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(max(0, len(dims) - 1)):
            init = math.log(math.expm1(1.0 / scale / dims[k + 1]))
            ps = config.param_scale
            self.matrices.append(nn.Parameter(torch.full((n, dims[k + 1], dims[k]), init / ps)))
            bias = torch.rand(n, dims[k + 1], 1, generator=torch.Generator().manual_seed(k)) - 0.5
            self.biases.append(nn.Parameter(bias / ps))
            if k < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(n, dims[k + 1], 1)))
        self.log_gain = nn.Parameter(
            torch.tensor([r * math.log(config.gain_ratio) for r in range(config.tracks)])
        )
        base = torch.full((levels, channels), math.log(config.base_step))
        base[:, 0] += math.log(config.density_step_factor)
        if level_scales is not None:
            if len(level_scales) != levels:
                raise ValueError("level_scales needs one (density, feature) pair per level")
            for lvl, (dens, feat) in enumerate(level_scales):
                if not (dens > 0 and feat > 0):
                    raise ValueError("level step scales must be positive")
                base[lvl, 0] += math.log(dens)
                base[lvl, 1:] += math.log(feat)
        self.log_base_step = nn.Parameter(base)
        self.register_buffer("lambdas", torch.tensor(config.track_lambdas(), dtype=torch.float32))

    # -- steps ---------------------------------------------------------------------------------
    def gains(self) -> torch.Tensor:
        """a_r per track, shape (K,)."""
        return torch.exp(self.log_gain)

    def step(self, level: int, track: int) -> torch.Tensor:
        """Steps of (level, track) per symbol channel, shape (channels,), differentiable."""
        return torch.exp(self.log_base_step[level] - self.log_gain[track])

    def steps_table(self) -> torch.Tensor:
        """All steps as float32 (K, L, channels), detached: what the encoder freezes per GoF."""
        with torch.no_grad():
            return torch.exp(self.log_base_step[None] - self.log_gain[:, None, None]).float()

    # -- densities -----------------------------------------------------------------------------
    def _logits_cdf(self, idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """g(x) for densities ``idx`` (B,) on inputs x (B, N)."""
        h = x[:, None, :]
        ps = self.config.param_scale
        for k, (mat, bias) in enumerate(zip(self.matrices, self.biases)):
            h = torch.bmm(F.softplus(mat[idx] * ps), h) + bias[idx] * ps
            if k < len(self.factors):
                h = h + torch.tanh(self.factors[k][idx] * ps) * torch.tanh(h)
        return h[:, 0, :]

    def likelihood(self, idx: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """P(symbol) for values y (B, N) in step units under densities idx (B,)."""
        if self.histogram:
            return self._histogram_likelihood(idx, y)
        lower = self._logits_cdf(idx, y - 0.5)
        upper = self._logits_cdf(idx, y + 0.5)
        # Evaluate in the tail where the sigmoids are small: numerically stable both sides.
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return lik.clamp_min(LIKELIHOOD_FLOOR)

    def _histogram_likelihood(self, idx: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        radius = self.config.hist_radius
        pos = y + radius
        k = torch.floor(pos.detach()).clamp(0, 2 * radius)
        frac = pos - k
        rows = self.hist_pmf[idx]  # (B, W)
        width = rows.shape[1]
        lo = torch.gather(rows, 1, k.long())
        hi = torch.gather(rows, 1, (k.long() + 1).clamp_max(width - 1))
        lik = lo + frac * (hi - lo)
        outside = (pos < 0) | (pos > 2 * radius)
        lik = torch.where(outside, torch.full_like(lik, LIKELIHOOD_FLOOR), lik)
        return lik.clamp_min(LIKELIHOOD_FLOOR)

    def bits(self, level: int, track: int, is_p: bool, channel: int, y: torch.Tensor) -> torch.Tensor:
        """Total bits of the symbols y (any shape, step units) of one channel; scalar."""
        idx = torch.tensor([self.index(is_p, track, level, channel)], device=y.device)
        return -torch.log2(self.likelihood(idx, y.reshape(1, -1))).sum()

    def level_bits(
        self, level: int, track: int, is_p: bool, density: torch.Tensor, planes: torch.Tensor
    ) -> torch.Tensor:
        """Bits of one level: density (n,n,n) and planes (3,C,m,m), both in step units."""
        total = self.bits(level, track, is_p, 0, density)
        c = planes.shape[1]
        if c == 0:
            return total
        idx = torch.tensor(
            [self.index(is_p, track, level, 1 + i) for i in range(c)], device=planes.device
        )
        y = planes.transpose(0, 1).reshape(c, -1)
        return total - torch.log2(self.likelihood(idx, y)).sum()

    @torch.no_grad()
    def commit_p_frame(self) -> None:
        """The current P-frame is finished: its last fitted histograms join ``p_done``."""
        if self.histogram:
            self.p_done += self.p_pending
            self.p_pending.zero_()

    @torch.no_grad()
    def pmf(self, level: int, track: int, is_p: bool, channel: int, lo: int, hi: int) -> torch.Tensor:
        """Probabilities of the integers lo..hi (inclusive), float64; for table export/analysis."""
        idx = torch.tensor([self.index(is_p, track, level, channel)])
        y = torch.arange(lo, hi + 1, dtype=torch.float32)[None]
        return self.likelihood(idx, y)[0].double()


@dataclass
class LevelRate:
    """Result of `closed_loop_level`: bits (scalar) and the reconstruction (differentiable)."""

    bits: torch.Tensor
    density: torch.Tensor
    planes: torch.Tensor
    extra: dict = field(default_factory=dict)


def closed_loop_level(
    model: RateModel,
    level: int,
    track: int,
    is_p: bool,
    density: torch.Tensor,
    planes: torch.Tensor,
    prev_density: torch.Tensor | None = None,
    prev_planes: torch.Tensor | None = None,
    *,
    mode: str = "noise",
) -> LevelRate:
    """Simulate exactly what the coder does for one (track, level) and return rate + recon.

    ``density``/``planes`` are the float chain F_t; ``prev_*`` the track's previous
    reconstruction s*Q_{t-1} (None on the I-frame). ``mode`` is "noise" (uniform noise) or
    "ste" (straight-through rounding). Since round(F/s) - Q_{t-1} = round((F - s*Q_{t-1}) / s),
    the simulated symbols equal the real ones up to the rounding proxy.
    """
    s = model.step(level, track)
    sd = s[0]
    sp = s[1:].view(1, -1, 1, 1)
    pd = prev_density if prev_density is not None else torch.zeros_like(density)
    pp = prev_planes if prev_planes is not None else torch.zeros_like(planes)
    yd = (density - pd) / sd
    yp = (planes - pp) / sp
    q = noisy if mode == "noise" else ste_round
    yd_hat, yp_hat = q(yd), q(yp)
    bits = model.level_bits(level, track, is_p, yd_hat, yp_hat)
    return LevelRate(bits, pd + sd * yd_hat, pp + sp * yp_hat)


def fit_densities(
    model: RateModel, items: list[tuple[int, torch.Tensor]], steps: int, lr: float
) -> float:
    """Maximum-likelihood fit of the densities ``idx`` to integer symbols, in place.

    ``items`` holds (density index, integer-valued symbols). Each density is fitted to the
    histogram of its symbols (unique values + counts: exact and cheap at any grid size) with a
    private Adam, so the trainer's optimizer state is untouched and the fit is deterministic.
    The density networks otherwise only see a few thousand sampled noisy symbols per step and
    lag far behind the symbols' real, much sharper distribution (measured on figure128: the
    model's estimate was ~12x the coded bytes). Returns the fitted bits per symbol.
    """
    if model.histogram:
        return _fit_histograms(model, items)
    items = [(i, y.detach().reshape(-1)) for i, y in items if y.numel() > 0]
    if not items or steps <= 0:
        return 0.0
    hists = [torch.unique(y.float(), return_counts=True) for _, y in items]
    width = max(v.numel() for v, _ in hists)
    device = items[0][1].device
    vals = torch.zeros(len(items), width, device=device)
    counts = torch.zeros(len(items), width, device=device)
    for row, (v, c) in enumerate(hists):
        vals[row, : v.numel()] = v
        counts[row, : c.numel()] = c.float()
    idx = torch.tensor([i for i, _ in items], device=device)
    total = counts.sum()
    params = [*model.matrices, *model.biases, *model.factors]
    saved = [(p.grad, p.requires_grad) for p in params]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    bits = torch.zeros(())
    with torch.enable_grad():
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            bits = -(counts * torch.log2(model.likelihood(idx, vals))).sum() / total
            bits.backward()
            opt.step()
    for p, (g, flag) in zip(params, saved):
        p.grad = g
        p.requires_grad_(flag)
    return float(bits.detach())


def symbol_counts(model: RateModel, y: torch.Tensor) -> torch.Tensor:
    """Histogram (W + 1,) of integer symbols on the model's support; the last bin counts the
    values beyond -R..R."""
    radius = model.config.hist_radius
    width = 2 * radius + 1
    v = y.detach().reshape(-1).to(torch.int64) + radius
    inside = (v >= 0) & (v < width)
    out = torch.zeros(width + 1, dtype=torch.float32, device=y.device)
    out[:width] = torch.bincount(v[inside], minlength=width).to(out)
    out[width] = float((~inside).sum())
    return out


def pmf_from_counts(counts: torch.Tensor, radius: int) -> torch.Tensor:
    """The coder's table for a histogram (W + 1,), as probabilities over -R..R.

    Same range trimming and 16-bit counts as `codec.entropy.tables.fit_table`; a value outside
    the table costs the escape entry plus ~`ESCAPE_BYTES` raw bytes, as in the coder."""
    width = 2 * radius + 1
    c = counts.detach().cpu().double().numpy()
    pmf = torch.full((width,), LIKELIHOOD_FLOOR, dtype=torch.float64)
    nz = c[:width].nonzero()[0]
    if nz.size == 0:
        pmf[radius] = 1.0  # nothing coded: all mass on 0
        return pmf.float()
    values, hits = nz - radius, c[nz]
    lo, hi = trim_range(values, hits)
    freq = c[lo + radius: hi + radius + 1].copy()
    escaped = c[width] + hits[(values < lo) | (values > hi)].sum()
    table = quantize_counts(np.append(freq, escaped)) / TOTAL
    pmf[lo + radius: hi + radius + 1] = torch.from_numpy(table[:-1])
    esc = table[-1] * 2.0 ** (-8 * ESCAPE_BYTES)
    pmf[: lo + radius] = esc
    pmf[hi + radius + 1:] = esc
    return pmf.float()


@torch.no_grad()
def _fit_histograms(model: RateModel, items: list[tuple[int, torch.Tensor]]) -> float:
    """Histogram densities: each row becomes the coder's table of its symbols; a P density
    also counts the symbols of the GoF's finished P-frames (``p_done``), like the coder's one
    P table per GoF. The current P-frame's histogram is kept in ``p_pending`` until
    `RateModel.commit_p_frame`. Returns the ideal bits per symbol of the items."""
    radius = model.config.hist_radius
    first_p = model.tracks * model.levels * model.channels
    bits, total = 0.0, 0.0
    for i, y in items:
        counts = symbol_counts(model, y)
        fit = counts
        if i >= first_p:
            model.p_pending[i] = counts.to(model.p_pending)
            fit = counts + model.p_done[i].to(counts)
        pmf = pmf_from_counts(fit, radius).to(model.hist_pmf)
        model.hist_pmf[i] = pmf
        n = float(counts.sum())
        if n:
            used = counts[:-1] > 0
            bits += float(-(counts[:-1][used] * torch.log2(pmf[used].to(counts))).sum())
            total += n
    return bits / total if total else 0.0
