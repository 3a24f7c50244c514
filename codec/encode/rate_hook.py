"""Joint rate-distortion training: the codec's side of the trainer's `RateHook` seam.

The trainer (codec/train) renders ``base + simulate(delta)`` per level and adds
``hook.loss(deltas, step_fraction)`` to its photometric loss. This hook makes both match what
the coder will do (docs/FORMAT.md §6):

* ``simulate`` returns, for one rate track r* per step, the closed-loop reconstruction
  ``s·Q_{t-1} + s·STE(y)`` with ``y = (F_t − s·Q_{t-1}) / s`` and ``F_t = base + delta``
  (straight-through rounding: the photometric loss sees the decoded grids of track r*; r* cycles
  over the tracks, HPC's multi-rate supervision without K renders per step);
* ``loss`` adds, for every track, VRVVC Eq. 6: ``rate_weight / K · (w_r · bits_r / elements
  + λ_r · MSE(recon_r, F_t))``, with w_r ∝ s_r (``track_rate_power``: each track priced by its
  step, so the finest one does not set the shared chain's pull), bits from the learned
  `RateModel` (on noisy symbols ``y + U(−½, ½)``, or on the real symbols for the kinds
  ``key_rate_kinds`` / ``p_rate_kinds`` name), over a seeded random subset of elements
  (``rate_samples`` per tensor, scaled up: unbiased, and the cost per step stays flat at any
  grid size).

Because ``Q_{t-1} = round(F_{t-1} / s)`` exactly (closed loop) and the trainer's P-frame base
is F_{t-1}, the hook needs no state across frames besides the model: ``s·Q_{t-1}`` is
recomputed from the base. Steps (gains and per-level scales) train on the I-frame only and are
frozen for the rest of the GoF; `steps_table()` is what the encoder stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from codec.entropy.rate_model import RateModel, fit_densities, ste_round
from codec.field.config import RenderParams


@dataclass(frozen=True)
class JointRateConfig:
    rate_weight: float = 5e-4
    """γ: weight of the whole RD term against the photometric MSE. Measured on figure128
    (docs/RATE.md, session 13; with `p_rate_weight` at the same value): 1e-3 -> 5e-4 moved
    every track up its curve (finest track's I-frame +0.4 dB for +13 % bytes at `fast`) and
    the full-LOD curve by BD-rate -7.3 % (`fast`, seed 0); the rate pressure of the coarse
    tracks had held the shared chain's ceiling 0.7 dB under the `--no-joint-rate` chain's. At
    `--preset default` the top track's equal-PSNR byte ratio to `--no-joint-rate` became 0.536 /
    0.540 / 0.533 / 0.587 on seeds 0-3 (0.529 / 0.538 / 0.560 / 0.722 at 1e-3)."""
    rate_samples: int = 4096
    """Elements per (kind, level) tensor the rate is evaluated on each step (0 = all)."""
    seed: int = 0
    refit_every: int = 25
    """Every this many steps of a frame (and at its first step) the densities are refitted by
    maximum likelihood to the current rounded symbols of every track (`fit_densities`)."""
    refit_steps: int = 30
    """Adam iterations of one refit (on the symbols' histograms: cheap)."""
    refit_lr: float = 0.02
    fit_only: bool = True
    """The densities are set only by the refits (maximum likelihood on the real rounded symbols,
    like the coder's fitted tables), not by the trainer's optimizer, whose noisy-symbol updates
    between refits would pull them toward the smoother density of y + U(-1/2, 1/2). Measured on
    figure128 (docs/RATE.md): same estimate and RD as with the optimizer, at lower cost."""
    train_steps: bool = False
    """Learn the gains / per-level steps on the I-frame. Off by default: measured on figure128
    (docs/RATE.md), learned steps end ~1.5x finer than the initial ladder (λ_r·MSE outweighs
    γ·bits) and the joint file needed 1.2-1.3x the no-joint bytes at equal PSNR; with the
    initial ladder (the `--no-joint-rate` steps) it needed 0.65-0.94x."""
    p_rate_weight: float | None = 5e-4
    """γ on P-frames (None = rate_weight), for the kinds in `p_rate_kinds`; P densities are
    refitted whatever it is (the rate estimate). Measured on figure128 (docs/RATE.md, session 4,
    with `p_quantized` and planes only): 1e-3 cut the P-frames' plane bytes 26-38 % at tracks
    1-3 for -0.17 to -0.26 dB on their P-frames (track 0 +0.3 dB); equal-PSNR ratio
    0.62/0.57/0.67/1.03 -> 0.59/0.54/0.63/0.98. Session 2 (density and planes, older
    trainer, no `p_quantized`) had measured it at -2.4 to -3.6 dB and switched it off.
    Session 13: 5e-4, halved with `rate_weight` (see there)."""
    p_rate_kinds: tuple[str, ...] = ("planes",)
    """Kinds whose P-frame residuals the rate term prices (with `p_rate_weight`); the others'
    P-frame rate is left out of the loss (their densities are still refitted). Density is left
    out: its real-symbol pricing cost the I-frame 1.7 dB at the finest track (session 4, jD)."""
    float_share: float = 0.75
    """Share of steps whose photometric loss sees the float chain itself (no simulated
    quantization); the other steps cycle over `qat_tracks` with straight-through rounding.
    Measured on figure128 with the session-2 training defaults (docs/RATE.md): with every step
    on a quantized track (0.0) the shared float chain bent toward the coarse tracks and the
    full-LOD PSNR of the fine tracks fell ~4 dB below the `--no-joint-rate` file's. 0.75 with
    `qat_tracks` (0, 1) replaced 0.5 over every track in session 5 (see `qat_tracks`)."""
    qat_tracks: tuple[int, ...] | None = (0, 1)
    """Tracks whose rounding the quantized steps simulate, in turn (None: every track; tracks
    the model lacks are skipped). Measured on figure128 (docs/RATE.md, session 5): rounding
    simulated on the fine tracks bent the shared chain (their float chain ends ~0.5 dB under
    one trained without any simulated rounding) while it paid only on the coarse ones (+2.2 /
    +1.0 dB at tracks 0 / 1, ~0 at track 2); with the coarse tracks only and float_share 0.75
    (each coarse track keeps its 1/8 of the steps) the finest track gains +0.42 dB and every
    track's equal-PSNR byte ratio to `--no-joint-rate` falls (0.58/0.58/0.63/0.85 ->
    0.58/0.57/0.63/0.78)."""
    p_float_share: float | None = 0.5
    """`float_share` on P-frames (None: the same as on the I-frame). Measured on figure128
    (docs/RATE.md, session 7, two seeds): with the I-frame's recipe the shared model's P-frames
    trailed the one-track models' by 0.1-0.5 dB at tracks 1-3; tracks (0, 1, 2) on half the
    P steps (1/6 each) moved the BD-rate vs the fixed-rate models +10.7 -> +8.5 % (seed 0) and
    +19.2 -> +17.2 % (seed 1). A quarter of float steps (1/4 each): +12.6 / +15.7 %; 5/8
    (1/8 each): +7.4 / +19.2 %."""
    p_qat_tracks: tuple[int, ...] | None = (0, 1, 2)
    """`qat_tracks` on P-frames (None: the same as on the I-frame; `tuple(range(8))` for
    every track). On the I-frame simulating track 2 did not pay (session 5, see `qat_tracks`);
    on P-frames it does (the figures under `p_float_share`)."""
    key_noise_tracks: tuple[int, ...] = (2,)
    """On the I-frame's float steps, the photometric loss sees the chain plus uniform noise of
    these tracks' bin widths (in turn; HPC Eq. 8) instead of the chain itself (empty: off).
    Measured on figure128 (docs/RATE.md, session 8, four seeds): the shared model's I-frame
    trailed the one-track models most at track 2 (0-based), whose rounding it never simulates
    (simulating it bent the chain, session 5); noise of its bin on the float steps moved the
    BD-rate vs the fixed-rate models +8.5 / +17.2 / +20.4 / +21.0 % -> +5.9 / +8.4 / +8.5 /
    +15.3 % (seeds 0-3; mean +16.8 -> +9.5 %)."""
    qat_start: float = 0.0
    """Fraction of a frame's steps before which every step sees the float chain (simulated
    quantization only later, at lower learning rates)."""
    p_compress_start: float = 0.0
    """Fraction of a P-frame's steps before which it trains as without the rate term: the
    photometric loss sees the float chain and the residuals get no rate gradient (the
    densities are still refitted). The P-frame first follows the motion at its full learning
    rate, then the simulated rounding and the rate shape what it learned. Measured on figure128
    (`fast`, 3 frames, docs/RATE.md, session 12), BD-rate of the full-LOD curve against 0: 0.4
    -2.9 % (seed 0) and -0.2 % (seed 1), 0.6 -3.0 % (seed 0): within the seeds' noise, so 0."""
    ste_live_only: bool = True
    """Straight-through gradient only through non-zero symbols of the simulated track (values
    rounding to 0 get none). Measured on figure128 (docs/RATE.md, session 3): fewer bytes at
    every track (0.85-0.94x) and +0.15-0.26 dB at the fine tracks' full LOD (finest track's
    I-frame +0.8 dB), for -0.8 dB at the coarsest; equal-PSNR ratio 0.58/0.73/0.97/1.38 ->
    0.52/0.67/0.85/1.22."""
    p_quantized: bool = True
    """Simulate quantization on P-frames too, like on the I-frame (False: P-frames' photometric
    loss always sees the float chain). Measured on figure128 (docs/RATE.md, session 4, with
    `ste_live_only` and the session-3 trainer): the P-frames of the coarse tracks inherit a
    chain shaped for their rounding and keep it (track 0 P-frames +1.3 / +2.1 dB, track 1
    +0.6 dB, P plane bytes -12 to -16 % at tracks 1-3), the finest track's P-frames -0.1 dB; equal-PSNR
    ratio 0.83/0.68/0.74/1.10 -> 0.62/0.57/0.67/1.03 (with `prune_density`). In session 2
    (before `ste_live_only`, older trainer) it cost the finest track's P-frames 0.3-0.8 dB
    against the float-chain P-frames and was switched off."""
    key_rate_kinds: tuple[str, ...] = ("planes", "density")
    """Kinds ('density', 'planes') whose I-frame values get a rate gradient, priced like the
    P-frames' residuals: the real symbols' bits, a gradient only where the symbol is non-zero
    (an empty tuple: the I-frame rate trains nothing but the densities). Measured on figure128
    (docs/RATE.md, session 3): planes priced this way cut the file 9 / 26 / 29 / 25 % (tracks
    0-3) for -1.8 / -0.8 / -0.3 / -0.1 dB at full LOD; equal-PSNR ratio
    0.52/0.67/0.85/1.22 -> 0.61/0.64/0.65/0.93. Density joined them in session 10, with
    `track_rate_power` 1 (docs/RATE.md): BD-rate -14.7 / -13.1 / -17.8 % (seeds 0-2) against
    the session-9 defaults, where `track_rate_power` alone gave -9.1 / -5.1 / -10.9 %; its
    I-frame finest density level at track 4 fell 50.9 -> 43.3 KB (empirical entropy).
    Noisy-symbol pricing of absolute densities had fogged empty space (session 1); the real
    symbols' pricing gives no gradient to the zero symbols that `prune_density` and
    `relax_opacity` leave there."""
    prune_unseen: bool = True
    """On the I-frame, set plane texels no LOD's occupancy lets the renderer read to 0 (at the
    frame's last step and every `prune_every` steps; `codec.encode.unseen`). They have no
    photometric gradient, so the rate term's optimum there is the zero symbol, but its noisy
    gradient alone does not reach it (and the I-frame's rate gradient into the grids is off):
    they kept their initial values, which at the finest track coded as ~70 % of the I-frame's
    plane bytes on figure128 (docs/RATE.md, session 3). Needs the trainer's occupancy
    (`bind(params, occupancy)`); without it nothing is pruned."""
    prune_every: int = 0
    """0: prune at the I-frame's last step only (the render never reads those texels, so the
    frame's training is untouched)."""
    prune_margin: int = 1
    """Texels within this many texels of a seen one are kept (room for the GoF's motion)."""
    prune_density: bool = True
    """At every frame's last step, reset the finest density level where no occupied cell of the
    full LOD reads it and the reset keeps the composed value `density_margin` under the
    occupancy threshold in the float chain and in every track (`unseen.prunable_density`):
    to 0 on the I-frame, to the previous frame's value (a zero residual) on P-frames. Mostly
    the negative values the trainer's hull carving writes outside the hull. Needs the
    occupancy geometry (`bind(..., geometry=(aabb, render))`)."""
    density_margin: float = 1.0
    """Raw-density margin under the occupancy threshold kept by `prune_density`."""
    relax_opacity: float | None = 4e-4
    """At every frame's last step (after `prune_density`), where the composed density of the
    float chain renders a sample of the finest lattice with σ·Δ under this opacity, the finest
    density level takes the cheapest value that keeps it under (`unseen.relaxed_density`: the
    previous frame's on P-frames, else the one nearest 0). None: off. 4e-4 is raw ≈ 0.06 on
    figure128's 97-point lattice (density_shift −4): transparent, but above the occupancy
    threshold (1e-6, raw ≈ −5.9), so the shell around the object becomes occupied cells the
    renderer samples. Hull carving had written ~45 % of the finest level's non-zero symbols
    there (|value| ~10 where the coarse levels spill density off the hull). Measured on
    figure128 (docs/RATE.md, session 9, seed 0): −33 / −27 / −20 / −15 % bytes at tracks 1-4
    for +0.07 to +0.09 dB, equal-PSNR ratio to `--no-joint-rate` 0.574 / 0.579 / 0.675 / 0.905
    -> 0.376 / 0.410 / 0.527 / 0.754; the full LOD's occupied cells +51 % (the GLSL players'
    CPU time per full-LOD frame +23-32 %), which the clip's stored occupancy threshold
    (`playback_render`) takes back to +9 %. Needs the occupancy geometry, like `prune_density`."""
    track_rate_power: float = 1.0
    """Track r's rate term is weighted by w_r ∝ s_r^p (its step to this power), normalised to a
    mean of 1 over the tracks (0: every track alike; one track: always 1). A rate gradient
    through a live symbol scales as 1/s_r, so with every track alike the finest track's pricing
    pulls the shared chain hardest and its top tracks saturate early; VRVVC weighs R_r against
    λ_r·D_r, i.e. rate by 1/λ_r ∝ s_r² (p = 2). With 4 tracks 2.5x apart, p = 1 gives
    w = 2.46 / 0.99 / 0.39 / 0.16. Measured on figure128 (docs/RATE.md, session 10, 3 frames),
    BD-rate of the full-LOD curve against p = 0 (with I-frame planes priced only): p = 0.5
    -10.3 / -3.3 % (seeds 0 / 1), p = 1 -9.1 / -5.1 / -10.9 % (seeds 0-2), p = 1.5 -10.0 /
    +3.1 / -10.0 %, p = 2 -2.3 % (seed 0); p = 1 with I-frame density priced too
    (`key_rate_kinds`, the default) -14.7 / -13.1 / -17.8 %."""
    p_track_rate_power: float | None = None
    """`track_rate_power` on P-frames (None: the same as on the I-frame). Measured (docs/RATE.md,
    session 10, seed 0, with the defaults otherwise): 0 on P-frames gave BD-rate -11.0 % against
    the session-9 defaults where the same power on both gave -14.7 %."""
    zero_blocks: bool = True
    """Charge no bits to elements whose 8^3 / 8x8 block rounds to all zero: the coder skips
    those blocks with a flag (docs/FORMAT.md §5)."""

    def for_single_track(self) -> JointRateConfig:
        """The recipe of a model trained for one rate only (the fixed-rate baseline): its own
        rounding simulated on half the steps, as every track was before session 5. With one
        track there is no finer track whose chain the simulated rounding could bend. Its
        I-frame prices the planes only: with its one track at the full weight γ, pricing the
        density too cost the one-track models 0.36-0.57 dB at tracks 2-4 for 6-7 % fewer bytes
        (docs/RATE.md, session 10; the shared model's tracks 3-4 weigh w_r / K = 0.1 / 0.04).
        γ is the shared model's: at 5e-4 instead of 1e-3 the one-track models moved the shared
        model's BD-rate against them by +0.6 points on figure128 (RATE.md, session 13)."""
        return replace(self, float_share=0.5, qat_tracks=None, p_float_share=None,
                       p_qat_tracks=None, key_noise_tracks=(), key_rate_kinds=("planes",))


PLAYBACK_MARGIN = 1.25
"""The occupancy threshold a jointly trained clip is stored with, over `relax_opacity`."""


def playback_render(render: RenderParams, config: JointRateConfig | None = None) -> RenderParams:
    """The rendering constants stored in a clip whose finest density level was relaxed: the
    occupancy threshold rises to `PLAYBACK_MARGIN` × `relax_opacity`, so the players skip the
    transparent shell the relaxation leaves occupied (training keeps its own threshold, whose
    cells must stay sampled to take gradients). Measured on figure128 (docs/RATE.md, session
    9): occupied fraction at the full LOD 0.095 -> 0.068 (0.063 before relaxing); PSNR equal
    to 0.001 dB at tracks 2-4, −0.017 dB at track 1."""
    config = config or JointRateConfig()
    if config.relax_opacity is None:
        return render
    threshold = max(render.occupancy_threshold, PLAYBACK_MARGIN * config.relax_opacity)
    return replace(render, occupancy_threshold=threshold)


class JointRateHook:
    """Implements codec.train.hooks.RateHook for K tracks with a shared RateModel."""

    def __init__(self, model: RateModel, config: JointRateConfig = JointRateConfig()) -> None:
        self.model = model
        self.config = config
        self.params = None
        self.is_key = True
        self.frame = 0
        self.counter = 0
        self._restored: int | None = None
        self._prev: dict[tuple[str, int, int], torch.Tensor] = {}
        self.occupancy: dict[int, torch.Tensor] | None = None
        self.geometry = None
        """(aabb, RenderParams) of the clip, for `prune_density`."""
        self.pruned_density = 0
        """Finest-level density values reset by the last `prune_density`."""
        self.relaxed_density = 0
        """Finest-level density values changed by the last `relax_opacity`."""
        self.pruned = 0
        """Plane values set to 0 by the last prune (for logs and tests)."""
        self._frame_steps: int | None = None
        """The frame's step budget, known from the trainer's step fraction after its 2nd step."""
        self._density_params = [*model.matrices, *model.biases, *model.factors]
        if config.fit_only:
            for p in self._density_params:
                p.requires_grad_(False)
        if not config.train_steps:
            for p in (model.log_gain, model.log_base_step):
                p.requires_grad_(False)

    # -- protocol --------------------------------------------------------------------------------
    def bind(
        self, params, occupancy: dict[int, torch.Tensor] | None = None, geometry=None  # noqa: ANN001
    ) -> None:
        """The frame's LevelParams (base tensors; codec.train.params, duck-typed), for
        `prune_unseen` the frame trainer's live occupancy dict (LOD -> cells) and for
        `prune_density` the clip's (aabb, RenderParams); call before the frame's first step."""
        self.params = params
        self.occupancy = occupancy
        if geometry is not None:
            self.geometry = geometry
        self._prev.clear()

    def prepare_frame(self, frame_index: int, is_key: bool) -> None:
        """Before the frame's trainer is built (its optimizer takes `parameters()`): steps train
        on I-frames only. After `load_state_arrays` mid-frame, the step counter is kept."""
        restored = self._restored == frame_index
        self._restored = None
        if not restored and frame_index != self.frame and not self.is_key:
            # The previous P-frame is final: its symbols join the GoF's P histograms (the
            # coder fits one P table to all P-frames of the GoF).
            self.model.commit_p_frame()
        self.frame = frame_index
        self.is_key = is_key
        if not restored:
            self.counter = 0
            self._frame_steps = None
        self._prev.clear()
        for p in (self.model.log_gain, self.model.log_base_step):
            p.requires_grad_(is_key and self.config.train_steps)

    def begin_frame(self, frame_index: int, is_key: bool) -> None:
        if (frame_index, is_key) != (self.frame, self.is_key) or self._restored is not None:
            self.prepare_frame(frame_index, is_key)

    def parameters(self) -> list[torch.Tensor]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def quantized_step(self) -> bool:
        """Whether this step's photometric loss sees a simulated track (else the float chain):
        a deterministic pattern with a share 1 - float_share of quantized steps."""
        if not self.is_key and not self.config.p_quantized:
            return False
        start = self.config.qat_start
        if not self.is_key:
            start = max(start, self.config.p_compress_start)
        if start > 0 and (self._frame_steps is None or self.counter < start * self._frame_steps):
            return False
        if not self._qat_tracks:
            return False
        q = 1.0 - self._float_share
        return math.floor((self.counter + 1) * q) > math.floor(self.counter * q)

    @property
    def track(self) -> int:
        """The track whose reconstruction the renderer sees this step (cycling over the
        quantized steps)."""
        tracks = self._qat_tracks or (0,)
        q = 1.0 - self._float_share
        return tracks[(self.frame + math.floor(self.counter * q)) % len(tracks)]

    @property
    def _float_share(self) -> float:
        cfg = self.config
        return cfg.float_share if self.is_key or cfg.p_float_share is None else cfg.p_float_share

    @property
    def _qat_tracks(self) -> tuple[int, ...]:
        chosen = self.config.qat_tracks
        if not self.is_key and self.config.p_qat_tracks is not None:
            chosen = self.config.p_qat_tracks
        if chosen is None:
            return tuple(range(self.model.tracks))
        return tuple(r for r in chosen if 0 <= r < self.model.tracks)

    def simulate(self, kind: str, level: int, delta: torch.Tensor) -> torch.Tensor:
        if not self.quantized_step:
            return self._noisy(kind, level, delta)
        base = self._base(kind, level)
        s = self._step(kind, level, self.track, delta)
        prev = self._prev_recon(kind, level, self.track, base, s)
        y = (base + delta - prev) / s
        q = ste_round(y)
        if self.config.ste_live_only:
            # A value in the zero bin only changes the render if it crosses +-s/2: at a coarse
            # step the identity gradient there is a direction the decoded track never shows,
            # and following it bends the shared chain the fine tracks code.
            q = torch.where(q.detach() != 0, q, q.detach())
        return prev + s * q - base

    def _noisy(self, kind: str, level: int, delta: torch.Tensor) -> torch.Tensor:
        """A float step of the I-frame with `key_noise_tracks`: the chain plus uniform noise of
        one of those tracks' bin width (HPC Eq. 8), cycling; otherwise the chain itself."""
        tracks = tuple(r for r in self.config.key_noise_tracks if 0 <= r < self.model.tracks)
        if not self.is_key or not tracks:
            return delta
        r = tracks[self.counter % len(tracks)]
        gen = torch.Generator().manual_seed(
            (self.config.seed * 1_000_003 + self.counter * 7_919 + level * 31
             + (kind == "planes")) & 0x7FFFFFFF)
        s = self._step(kind, level, r, delta).detach()
        noise = torch.rand(delta.shape, generator=gen).to(delta.device) - 0.5
        return delta + s * noise

    def loss(self, deltas: dict[tuple[str, int], torch.Tensor], step_fraction: float) -> torch.Tensor:
        cfg = self.config
        total = None
        gen = torch.Generator().manual_seed(
            (cfg.seed * 1_000_003 + self.frame * 10_007 + self.counter) & 0x7FFFFFFF
        )
        if self._prune_now(step_fraction):
            self._prune_unseen()
        if cfg.prune_density and self.geometry is not None and self._last_step(step_fraction):
            self._prune_density()
        if (cfg.relax_opacity is not None and self.geometry is not None
                and self._last_step(step_fraction)):
            self._relax_density()
        refit = bool(cfg.refit_every) and (
            self.counter % cfg.refit_every == 0 or self._last_step(step_fraction))
        # The whole element masks (and symbols) only on refit steps; the other steps need the
        # zero-block test at the sampled elements alone (`_sampled_keep`: the same booleans).
        masks = self._block_masks(deltas) if refit else {}
        if refit:
            self._refit(deltas, masks)
        track_weights = [self._track_weight(r) for r in range(self.model.tracks)]
        for (kind, level), delta in deltas.items():
            if not self.is_key and (kind not in cfg.p_rate_kinds or cfg.p_rate_weight == 0
                                    or step_fraction < cfg.p_compress_start):
                continue  # no P-frame rate gradient (a zero weight: skip the work too)
            base = self._base(kind, level)
            flat = self._sample_index(kind, delta, gen)  # (channels, k) into the flat tensor
            chans, k = flat.shape
            per_channel = delta.numel() // chans
            d_flat, b_flat = delta.reshape(-1), base.reshape(-1)
            f = b_flat[flat] + d_flat[flat]
            real_symbols = not self.is_key or kind in cfg.key_rate_kinds
            if not real_symbols:
                # On the I-frame the rate trains the steps and densities only: pulling absolute
                # grid values toward the densities' modes fogs empty space (measured: full-LOD
                # bytes x3 at equal PSNR on figure128).
                f = f.detach()
            noise = torch.rand(f.shape, generator=gen).to(f.device) - 0.5
            keeps = None
            if cfg.zero_blocks:
                keeps = ([masks[(kind, level, r)][1].reshape(-1)[flat]
                          for r in range(self.model.tracks)] if masks
                         else self._sampled_keep(kind, level, delta, flat))
            for r in range(self.model.tracks):
                s = self._step(kind, level, r, delta)
                s_col = s.reshape(-1, 1) if kind == "planes" else s.reshape(1, 1)
                prev = self._prev_recon(kind, level, r, base, s).reshape(-1)[flat]
                y = (f - prev) / s_col
                if not real_symbols:
                    y_hat = y + noise
                else:
                    # P-frames (and `key_rate_kinds`): the real symbol's bits, with a gradient
                    # only where the symbol is non-zero. Uniform noise gave every residual, even
                    # one with no photometric gradient, a random-sign rate gradient that Adam
                    # scales up to ~lr per step: measured on figure128 (docs/RATE.md) 2.2x the
                    # P-frame bytes and -2 dB.
                    live = torch.round(y.detach()) != 0
                    y_hat = torch.where(live, y, y.detach())
                keep = None if keeps is None else keeps[r]
                bits = self._bits(kind, level, r, y_hat, keep) * (per_channel / k)
                dist = torch.mean((s_col * noise) ** 2)
                term = (track_weights[r] * bits / delta.numel()
                        + self.model.lambdas[r] * dist)
                total = term if total is None else total + term
        if step_fraction > 0:
            self._frame_steps = round(self.counter / step_fraction)
        self.counter += 1
        if total is None:
            return torch.zeros(())
        weight = cfg.rate_weight
        if not self.is_key and cfg.p_rate_weight is not None:
            weight = cfg.p_rate_weight
        return weight * total / self.model.tracks

    # -- helpers ---------------------------------------------------------------------------------
    def _track_weight(self, track: int) -> float:
        cfg = self.config
        p = cfg.track_rate_power
        if not self.is_key and cfg.p_track_rate_power is not None:
            p = cfg.p_track_rate_power
        if p == 0 or self.model.tracks == 1:
            return 1.0
        # Steps are base_step / gain_r on every level and channel: the gains alone set the ratio.
        w = torch.exp(-p * self.model.log_gain.detach().double())
        return float(w[track] / w.mean())

    def _prune_now(self, step_fraction: float) -> bool:
        cfg = self.config
        if not (self.is_key and cfg.prune_unseen and self.occupancy):
            return False
        periodic = cfg.prune_every > 0 and self.counter % cfg.prune_every == 0
        return periodic or self._last_step(step_fraction)

    @torch.no_grad()
    def _prune_unseen(self) -> None:
        """F = base + delta := 0 on the plane texels no LOD reads (delta := -base there)."""
        from .unseen import seen_texels

        assert self.params is not None and self.occupancy is not None
        planes = self.params.delta_planes
        seen = seen_texels(self.occupancy, [p.shape[-1] for p in planes], self.config.prune_margin)
        count = 0
        for lvl, (delta, keep) in enumerate(zip(planes, seen)):
            drop = (~keep).to(delta.device)[:, None].expand_as(delta)
            delta[drop] = -self.params.base_planes[lvl][drop]
            count += int(drop.sum())
        self.pruned = count

    @torch.no_grad()
    def _prune_density(self) -> None:
        """The finest density level := 0 (I-frame) or its previous value (P-frame: delta := 0)
        where `prunable_density` allows it."""
        from .unseen import density_threshold, prunable_density

        assert self.params is not None
        p = self.params
        levels = [b + d for b, d in zip(p.base_density, p.delta_density)]
        aabb, render = self.geometry
        thr = density_threshold(aabb.detach().cpu().double(), levels[-1].shape[-1], render)
        steps = [[float(self.model.step(lv, r)[0]) for lv in range(len(levels))]
                 for r in range(self.model.tracks)]
        previous = None if self.is_key else p.base_density[-1].detach().cpu()
        mask = prunable_density([v.detach().cpu() for v in levels], thr, steps,
                                self.config.density_margin, previous).to(levels[-1].device)
        delta = p.delta_density[-1]
        target = -p.base_density[-1] if self.is_key else torch.zeros_like(delta)
        self.pruned_density = int((mask & (delta != target)).sum())
        delta[mask] = target[mask]

    @torch.no_grad()
    def _relax_density(self) -> None:
        """The finest density level := `relaxed_density` of the float chain (I- and P-frames)
        under the raw density of `relax_opacity` on the finest lattice."""
        from .unseen import raw_density_at, relaxed_density

        assert self.params is not None and self.config.relax_opacity is not None
        p = self.params
        levels = [(b + d).detach() for b, d in zip(p.base_density, p.delta_density)]
        aabb, render = self.geometry
        ceiling = raw_density_at(aabb.detach().cpu().double(), levels[-1].shape[-1], render,
                                 self.config.relax_opacity)
        previous = None if self.is_key else p.base_density[-1].detach()
        new = relaxed_density(levels, ceiling, previous)
        changed = new != levels[-1]
        self.relaxed_density = int(changed.sum())
        # Only the changed entries: rewriting every delta as new − base would round the rest.
        p.delta_density[-1][changed] = (new - p.base_density[-1])[changed]

    def _last_step(self, step_fraction: float) -> bool:
        """The frame's last step (the trainer passes step / steps): the densities are refitted
        there too, so the model ends fitted to the frame's final symbols."""
        if step_fraction <= 0.0:
            return False
        return self.counter + 1 >= round(self.counter / step_fraction)

    def _base(self, kind: str, level: int) -> torch.Tensor:
        assert self.params is not None, "JointRateHook.bind(params) must be called first"
        return (self.params.base_density if kind == "density" else self.params.base_planes)[level]

    def _step(self, kind: str, level: int, track: int, like: torch.Tensor) -> torch.Tensor:
        s = self.model.step(level, track).to(like.device)
        return s[0] if kind == "density" else s[1:].view(1, -1, 1, 1)

    def _prev_recon(
        self, kind: str, level: int, track: int, base: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """s·Q_{t-1} of the track (zero on the I-frame); steps are frozen on P-frames."""
        key = (kind, level, track)
        if self.is_key:
            if key not in self._prev:
                self._prev[key] = torch.zeros_like(base)
            return self._prev[key]
        if key not in self._prev:
            with torch.no_grad():
                sd = s.detach()
                self._prev[key] = torch.round(base / sd) * sd
        return self._prev[key]

    def _sample_index(self, kind: str, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Flat indices (channels, k) of the sampled elements: density (1, k); planes
        (3, C, m, m) -> per feature channel c, k positions among its 3·m² elements."""
        cfg = self.config
        if kind == "density":
            n = t.numel()
            k = n if not cfg.rate_samples else min(n, cfg.rate_samples)
            pos = torch.arange(n) if k == n else torch.randint(n, (k,), generator=gen)
            return pos.view(1, -1).to(t.device)
        _, c, m, _ = t.shape
        per = 3 * m * m
        k = per if not cfg.rate_samples else min(per, max(1, cfg.rate_samples // c))
        pos = torch.arange(per) if k == per else torch.randint(per, (k,), generator=gen)
        plane, rest = pos // (m * m), pos % (m * m)
        chan = torch.arange(c).view(-1, 1)
        return ((plane.view(1, -1) * c + chan) * (m * m) + rest.view(1, -1)).to(t.device)

    def _bits(
        self, kind: str, level: int, track: int, y: torch.Tensor, keep: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Bits of y (channels, elements) in step units under the track's densities; ``keep``
        (same shape, bool) marks the elements the coder codes (inside non-zero blocks)."""
        bits = -torch.log2(self.model.likelihood(self._indices(kind, level, track, y), y))
        if keep is not None:
            bits = bits * keep.to(bits.dtype)
        return bits.sum()

    def _indices(self, kind: str, level: int, track: int, like: torch.Tensor) -> torch.Tensor:
        is_p = not self.is_key
        first = 0 if kind == "density" else 1
        n = 1 if kind == "density" else self.model.channels - 1
        return torch.tensor(
            [self.model.index(is_p, track, level, first + i) for i in range(n)], device=like.device
        )

    @torch.no_grad()
    def _block_masks(
        self, deltas: dict[tuple[str, int], torch.Tensor]
    ) -> dict[tuple[str, int, int], tuple[torch.Tensor, torch.Tensor]]:
        """(kind, level, track) -> (rounded symbols, bool mask of the elements inside non-zero
        blocks), both shaped like the delta: exactly what the coder would code now."""
        from codec.entropy.coder import block_flags, element_mask

        out = {}
        for (kind, level), delta in deltas.items():
            base = self._base(kind, level)
            value = base + delta
            for r in range(self.model.tracks):
                s = self._step(kind, level, r, delta).detach()
                q = torch.round((value - self._prev_recon(kind, level, r, base, s)) / s)
                qn = q.cpu().numpy()
                if kind == "density":
                    keep = element_mask(block_flags(qn), qn.shape)
                else:
                    keep = np.stack(
                        [element_mask(block_flags(qn[:, c]), qn[:, c].shape)
                         for c in range(qn.shape[1])], axis=1)
                out[(kind, level, r)] = (q, torch.from_numpy(keep).to(q.device))
        return out

    @torch.no_grad()
    def _sampled_keep(
        self, kind: str, level: int, delta: torch.Tensor, flat: torch.Tensor
    ) -> list[torch.Tensor]:
        """Per track, whether each sampled element (``flat``, as `_sample_index` draws) lies in
        a block the coder codes: `_block_masks`' booleans at those elements, without rounding
        and expanding every element (that was ~40 % of a joint-rate step on figure128).

        A block holds a non-zero symbol iff its largest |F − s·Q_{t−1}| does: correctly rounded
        division by s > 0 is monotone and round(q) ≠ 0 iff |q| > ½, so rounding the block's
        peak decides exactly as rounding every element would. On the I-frame s·Q_{t−1} = 0 and
        one peak per block serves every track."""
        from codec.entropy.coder import BLOCK

        base = self._base(kind, level)
        value = base + delta
        density = kind == "density"
        if density:
            n = delta.shape[0]
            b = -(-n // BLOCK)
            z, y, x = flat // (n * n), (flat // n) % n, flat % n
            at = ((z // BLOCK) * b + y // BLOCK) * b + x // BLOCK
        else:
            _, c, m, _ = delta.shape
            b = -(-m // BLOCK)
            plane, channel, rest = flat // (c * m * m), (flat // (m * m)) % c, flat % (m * m)
            at = ((plane * c + channel) * b + (rest // m) // BLOCK) * b + (rest % m) // BLOCK
        out, key_peak = [], None
        for r in range(self.model.tracks):
            s = self._step(kind, level, r, delta).detach()
            peak = key_peak
            if peak is None:
                peak = _block_peak(value - self._prev_recon(kind, level, r, base, s), density)
                if self.is_key:
                    key_peak = peak
            out.append((torch.round(peak / s) != 0).reshape(-1)[at])
        return out

    def _refit(self, deltas, masks) -> None:  # noqa: ANN001
        """Fit the densities of every (track, level, channel) in play to its current symbols."""
        items = []
        for (kind, level, r), (q, keep) in masks.items():
            idx = self._indices(kind, level, r, q).tolist()
            if kind == "density":
                items.append((idx[0], q[keep]))
            else:
                items += [(i, q[:, c][keep[:, c]]) for c, i in enumerate(idx)]
        cfg = self.config
        fit_densities(self.model, items, cfg.refit_steps, cfg.refit_lr)

    # -- checkpoint ----------------------------------------------------------------------------
    def steps_table(self) -> np.ndarray:
        return self.model.steps_table().cpu().numpy()

    def state_arrays(self) -> dict[str, np.ndarray]:
        out = {f"rate.{k}": v.detach().cpu().numpy() for k, v in self.model.state_dict().items()}
        total = -1 if self._frame_steps is None else self._frame_steps
        out["rate.counter"] = np.array([self.counter, self.frame, int(self.is_key), total], np.int64)
        return out

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        sd = {k[5:]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
              if k.startswith("rate.") and k != "rate.counter"}
        self.model.load_state_dict(sd)
        if "rate.counter" in arrays:
            c, f, key, *rest = (int(x) for x in arrays["rate.counter"])
            self.counter, self.frame, self.is_key = c, f, bool(key)
            self._frame_steps = rest[0] if rest and rest[0] >= 0 else None
            self._restored = f


def _block_peak(values: torch.Tensor, density: bool) -> torch.Tensor:
    """Largest |value| per zero-flag block (`coder.block_flags`' blocks, padded with zeros): a
    density (n, n, n) -> (b, b, b); planes (3, C, m, m) -> (3, C, b, b), each channel's planes
    blocked separately as the coder does."""
    from codec.entropy.coder import BLOCK

    m = values.shape[-1]
    b = -(-m // BLOCK)
    lead = () if density else tuple(values.shape[:2])
    inner = (b * BLOCK,) * (3 if density else 2)
    pad = values.new_zeros((*lead, *inner))
    if density:
        pad[:m, :m, :m] = values.abs()
        return pad.view(b, BLOCK, b, BLOCK, b, BLOCK).amax(dim=(1, 3, 5))
    pad[..., :m, :m] = values.abs()
    return pad.view(*lead, b, BLOCK, b, BLOCK).amax(dim=(3, 5))


@torch.no_grad()
def estimate_bits(
    model: RateModel, chains, steps: np.ndarray, *, zero_blocks: bool = True
) -> np.ndarray:
    """The learned model's bits for the real symbols of one GoF, per track (K,).

    ``chains`` is a `GofChains`; symbols are exactly the coder's (closed loop, rounded). This is
    what training believes the rate is; `encode` stores it beside the real coded bytes. With
    ``zero_blocks`` it counts what the coder codes: the block flags (their ideal length) and
    the densities' bits of the symbols inside non-zero blocks only.
    """
    from codec.entropy.coder import block_flags, element_mask
    from codec.quantize.closed_loop import quantize_frame, split_channels

    out = np.zeros(steps.shape[0])
    for r in range(steps.shape[0]):
        for lv in range(len(chains.density[0])):
            prev: list[torch.Tensor] | None = None
            for i in range(len(chains.density)):
                chans = split_channels(chains.density[i][lv], chains.planes[i][lv])
                cur = []
                for c, v in enumerate(chans):
                    sym, q = quantize_frame(v, float(steps[r, lv, c]), None if prev is None else prev[c])
                    cur.append(q)
                    out[r] += _flag_bits(sym.numpy()) if zero_blocks else 0.0
                    keep = element_mask(block_flags(sym.numpy()), tuple(sym.shape))
                    coded = sym.numpy()[keep] if zero_blocks else sym.numpy().reshape(-1)
                    if coded.size == 0:
                        continue
                    y = torch.from_numpy(coded.astype(np.float32)).reshape(1, -1)
                    idx = torch.tensor([model.index(i > 0, r, lv, c)])
                    out[r] += float(-torch.log2(model.likelihood(idx, y)).sum())
                prev = cur
    return out


def _flag_bits(sym: np.ndarray) -> float:
    """Ideal length of one channel's block flags: k over 0..B, then B flags at p = k/B."""
    from codec.entropy.coder import block_flags

    flags = block_flags(sym)
    n, k = flags.size, int(flags.sum())
    bits = math.log2(n + 1)
    if 0 < k < n:
        p = k / n
        bits -= n * (p * math.log2(p) + (1 - p) * math.log2(1 - p))
    return bits
