"""Typed training configuration and the named presets (field shape + training budget)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ..field.config import FieldConfig, RenderParams


@dataclass(frozen=True)
class TrainConfig:
    """How one GoF is trained. Budgets are step counts (reproducible); wall time is reported.

    Defaults are the CPU-sized figures measured on figure128 (docs/TRAINING.md).
    """

    seed: int = 0
    """Seeds every random draw (rays, jitter, backgrounds, MLP init) via torch.Generator."""
    batch_rays: int = 4096
    """Rays per optimization step."""

    # --- I-frame ---------------------------------------------------------------------------
    key_steps: int = 3000
    """Adam steps for the I-frame (full grids + the GoF's MLP)."""
    key_lr_density: float = 0.3
    key_lr_planes: float = 0.15
    """Measured on figure128 (docs/TRAINING.md): 0.1 / 0.05 reached 36.2 dB in 3000 steps,
    0.3 / 0.15 37.45 dB; the hull start and the exponential decay keep the high rates stable."""
    key_lr_mlp: float = 0.004
    lr_final_ratio: float = 0.05
    """Every learning rate decays exponentially to this fraction at the end of its budget."""

    # --- P-frames --------------------------------------------------------------------------
    p_steps: int = 500
    """Adam steps per P-frame (per-level residuals only)."""
    p_batch_fraction: float = 0.625
    """P-frame rays per step = round(batch_rays * this) (4096 -> 2560). With every P-frame ray
    on the changed pixels (`motion_ray_fraction` 1) and the full LOD supervised most of the
    time (`p_level_weight_low` 0.1) a ray costs ~1.5x more; fewer rays keep a P-frame's CPU
    at the session-2 figure and still gain (docs/TRAINING.md, session 3)."""
    p_lr_density: float = 0.2
    p_lr_planes: float = 0.1
    """P-frame rates as high as the I-frame's: the limbs of figure128 move several voxels per
    frame, and at 0.05 / 0.01 500 steps recovered barely half of it (docs/TRAINING.md)."""
    p_lr_final_ratio: float = 0.05
    """P-frame rates end at this fraction of their base. With the decay from step 0 this left
    ~0.7 dB of motion unlearned (session 2: 0.2 was used); after a hold (`p_lr_hold`) the low
    final rate pays (docs/TRAINING.md, session 4)."""
    p_lr_hold: float = 0.5
    """P-frame learning rates stay at their base for this first fraction of the steps before
    the exponential decay to `p_lr_final_ratio` (0: decay from step 0). Hold 0.5 with a final
    0.05 beat decay-from-0 to 0.2 by ~0.1 dB on figure128 frames 1-4 (session 4)."""
    p_warm_start: float = 0.0
    """A P-frame's residual starts at this multiple of the previous P-frame's residual
    (motion continuity: F_t ≈ F_{t-1} + w·R_{t-1}); 0 starts it at zero."""
    residual_l1: float = 0.002
    """Weight of the density share of the mean |R| penalty (HPC Eq. 13 / VRVVC L_res), per
    element mean over levels and kinds. Sets the sparsity/quality trade, and the density share
    is what costs quality: on figure128 frames 1-4 density+planes 0.01 / 0.01 gave 34.98 dB at
    residual_ratio 0.073, 0.01 / 0.002 34.98 dB, 0.003 / 0.01 35.35 dB at 0.100, 0 / 0 35.72 dB
    at 0.28 (docs/TRAINING.md, session 4). Session 5: 0.002 with `p_carve_outside` −8 (which
    frees ~0.007 of residual_ratio) gained +0.11 dB at an unchanged ratio."""
    residual_l1_planes: float | None = 0.01
    """Weight of the planes' share of that mean (None: `residual_l1`, one weight for both)."""
    residual_l1_levels: tuple[float, ...] | None = None
    """Per-level multipliers (index = level − 1; the last value repeats) of the density L1
    weight; None: 1 for every level. The L1 gradient per entry is the same at every level
    while the photometric one shrinks with the lattice spacing (finest density ~1e-8)."""
    residual_prox: float = 0.035
    """Soft-threshold after every Adam step: |R| shrinks by residual_prox * lr (0 disables).
    Adam moves every entry with a gradient by ~lr, so L1 alone leaves them at |R| ~ lr; on
    figure128 0.05 raised zero_fraction 0.64 -> 0.90 for -0.09 dB (0.5 cost several dB).
    Session 6 (frames 1-4): 0.035 instead of 0.05 gained +0.10 dB at residual_ratio 0.097 and
    zero_fraction 0.89; 0.025 gained +0.19 dB but crossed the 0.1 ratio (docs/TRAINING.md)."""
    motion_ray_fraction: float = 1.0
    """Share of P-frame rays drawn from pixels that changed since the previous frame. On
    figure128 (where the whole figure moves) 0.5 -> 0.75 -> 1.0 gained +0.37 / +0.50 dB at
    equal steps; 1.0 beat 0.75 at equal CPU (docs/TRAINING.md, session 3). The carve to each
    frame's visual hull keeps the space no ray samples free of fog."""
    p_error_ray_fraction: float = 0.0
    """Share of a P-frame's motion rays drawn in proportion to each changed pixel's last
    seen squared error (full-LOD renders; pixels not yet seen count as maximal), the rest
    uniformly over the changed pixels. 0: uniform only."""
    motion_threshold: float = 0.02
    """A pixel 'changed' when max |ΔRGBA| exceeds this (before dilation)."""
    p_lift: bool = True
    """Seed P-frame density where the hull newly covers space (see init.py)."""
    p_lift_density: float | None = -2.0
    """Raw density the lift raises new hull space to (None: `hull_inside`). Just enough to be
    occupied and to pass gradients; a higher floor costs residual bytes where nothing is."""
    p_adam_eps: float = 1e-15
    """Adam's eps on P-frames. An eps near the typical gradient would make entries with small
    gradients move in proportion to them instead of by ~lr; on figure128 1e-9 and 1e-8 changed
    nothing and 1e-7 cost 0.5 dB (the finest level's gradients are ~1e-8): kept as a knob."""
    p_adam_betas: tuple[float, float] = (0.9, 0.99)
    """Adam's (beta1, beta2) on P-frames."""
    finetune_mlp: bool = False
    """Also update the GoF's MLP on P-frames (off: the MLP is frozen after the I-frame)."""

    # --- schedule and supervision ----------------------------------------------------------
    progressive: bool = True
    """HPC Alg. 1: switch levels on over training, freeze lower levels near the end.
    False is the "no progressive schedule" ablation (all levels from step 0, none frozen)."""
    p_progressive: bool = True
    """Apply the level schedule to P-frames too (VRVVC's low-resolution first stage; else: every
    level from step 0, the finest alone during the freeze phase is kept). On figure128 frames
    1-4 with the session-4 L1 and LR: full LOD +0.08 dB, LOD 1 +0.8 dB, ~8% less CPU (the
    early steps render fewer levels); docs/TRAINING.md, session 4."""
    level_on_fraction: float = 0.4
    """Levels 2..L are switched on evenly over this first fraction of each frame's steps."""
    freeze_fraction: float = 0.1
    """During this last fraction only the finest level trains (HPC's 'stop training R^{l-1}')."""
    multi_level: bool = True
    """Σ α_l·MSE_l over LODs (HPC Eq. 11). False is the single-level (finest only) ablation."""
    level_weight_low: float = 0.25
    """α_l of every LOD below the finest active one (HPC uses 0.25, finest 1)."""
    p_level_weight_low: float | None = 0.05
    """α_l of the lower LODs on P-frames (None: `level_weight_low`). 0.1 spends more of a
    P-frame's steps on the full LOD: +0.55 dB there at equal steps on figure128, LODs 2-3 lose
    ~0.5 dB and every level still adds > 2 dB (docs/TRAINING.md, session 3). Session 5: with the
    25-point level 1 (LOD 1 has dB to spare) 0.05 gained +0.11 dB at the full LOD for −0.66 dB
    at LOD 1 and ~5% more CPU per P-frame."""
    level_weights_low: tuple[float, ...] | None = None
    """Per-LOD α (index = LOD − 1) of the I-frame's lower LODs, replacing the one
    `level_weight_low` (None: that one value for every lower LOD)."""
    p_level_weights_low: tuple[float, ...] | None = None
    """The same per-LOD α for P-frames (None: `p_level_weight_low`)."""
    tv_planes: float = 1e-3
    """Weight of a total-variation (mean squared neighbour difference) penalty on every
    trained level's planes; smooths features that 18 views leave under-constrained."""
    lod_sampling: bool = True
    """True: one LOD per step, drawn with probability ∝ α_l (unbiased for Σ α_l·MSE_l, one
    render per step). False: render every supervised LOD each step (costlier)."""
    residuals: bool = True
    """P-frames learn residuals on the previous frame. False: the "independent frames" ablation
    (every frame is trained like an I-frame, with its own grids; the GoF still shares one MLP)."""

    # --- initialisation, occupancy and background ------------------------------------------
    hull_inside: float = 2.0
    """Initial raw density inside the visual hull of the training alphas."""
    hull_outside: float = -10.0
    """Initial raw density outside it (σ·Δ far below the occupancy threshold)."""
    p_carve_outside: float | None = -8.0
    """P-frames carve each LOD's composed density off the hull to at most this (None:
    `hull_outside`). Where a limb leaves, the carve is a residual of (previous value − this)
    per entry; the occupancy threshold lies near raw −7.0 at the 33-point step and −5.9 at the
    97-point one (density_shift −4, figure128's box), so −8 still skips the space: on figure128
    frames 1-4 residual_ratio 0.097 -> 0.090 at equal PSNR. −7.5 (with the lift to −3) saved
    only 0.004 more and the cells the L1 nudges back over the threshold cost steps."""
    hull_alpha: float = 0.05
    """A pixel belongs to the silhouette when its alpha exceeds this."""
    hull_dilate: int = 1
    """Silhouettes are dilated by this many pixels before carving (calibration slack)."""
    occupancy_every: int = 50
    """Steps between occupancy-grid refreshes during training."""
    random_background: bool = True
    """Composite targets over a random colour per ray when the images carry alpha."""
    checkpoint_every: int = 200
    """Steps between mid-frame checkpoints (when a checkpoint path is given)."""

    def validate(self) -> TrainConfig:
        if self.batch_rays < 1 or self.key_steps < 1 or self.p_steps < 0:
            raise ValueError("batch_rays and key_steps must be >= 1, p_steps >= 0")
        if not 0.0 < self.p_batch_fraction <= 4.0:
            raise ValueError("p_batch_fraction must lie in (0, 4]")
        if not 0.0 <= self.level_on_fraction < 1.0 or not 0.0 <= self.freeze_fraction < 1.0:
            raise ValueError("level_on_fraction and freeze_fraction must lie in [0, 1)")
        if self.level_on_fraction + self.freeze_fraction >= 1.0:
            raise ValueError("level_on_fraction + freeze_fraction must stay below 1")
        if not 0.0 <= self.motion_ray_fraction <= 1.0 or not 0.0 <= self.p_error_ray_fraction <= 1.0:
            raise ValueError("motion_ray_fraction and p_error_ray_fraction must lie in [0, 1]")
        if min(self.key_lr_density, self.key_lr_planes, self.key_lr_mlp) <= 0:
            raise ValueError("learning rates must be positive")
        if not (0.0 < self.lr_final_ratio <= 1.0 and 0.0 < self.p_lr_final_ratio <= 1.0):
            raise ValueError("lr_final_ratio and p_lr_final_ratio must lie in (0, 1]")
        if self.level_weight_low < 0 or (self.p_level_weight_low or 0) < 0:
            raise ValueError("level_weight_low and p_level_weight_low must be >= 0")
        for weights in (self.level_weights_low, self.p_level_weights_low):
            if weights is not None and (not weights or min(weights) < 0):
                raise ValueError("level_weights_low / p_level_weights_low need values >= 0")
        if not 0.0 <= self.p_lr_hold < 1.0 or self.p_warm_start < 0:
            raise ValueError("p_lr_hold must lie in [0, 1) and p_warm_start be >= 0")
        if self.p_adam_eps <= 0 or not all(0.0 <= b < 1.0 for b in self.p_adam_betas):
            raise ValueError("p_adam_eps must be > 0 and p_adam_betas lie in [0, 1)")
        if self.residual_l1_levels is not None and (
            not self.residual_l1_levels or min(self.residual_l1_levels) < 0
        ):
            raise ValueError("residual_l1_levels needs values >= 0")
        if self.residual_l1 < 0 or (self.residual_l1_planes or 0) < 0 or self.residual_prox < 0 \
                or self.occupancy_every < 1:
            raise ValueError("residual_l1, residual_prox >= 0 and occupancy_every >= 1 required")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes).validate()


@dataclass(frozen=True)
class Preset:
    """A named pairing of field shape and training budget."""

    name: str
    field: FieldConfig
    train: TrainConfig
    downscale: int = 1
    """Image downscale the preset trains at (1 = full resolution)."""
    note: str = ""


FAST_STEP_FLOOR = 33
"""Coarse LODs of the `fast`/`default` field step no coarser than a 33-point lattice's voxel: on
figure128 LOD 1 rose 28.0 -> 31.5 dB with the 65-point level-1 planes (docs/DECISIONS.md)."""


def _presets() -> dict[str, Preset]:
    return {
        "test": Preset(
            "test",
            FieldConfig(
                density_res=(5, 9, 17), plane_res=(9, 17, 33), channels=4, hidden=(16,)
            ).validate(),
            TrainConfig(batch_rays=512, key_steps=120, p_steps=40, occupancy_every=20).validate(),
            downscale=4,
            note="seconds on 2 CPU threads; for tests (32 px images)",
        ),
        "fast": Preset(
            "fast",
            FieldConfig(render=RenderParams(step_floor_res=FAST_STEP_FLOOR)).validate(),
            TrainConfig().validate(),
            note="CPU budget: I-frame <= 120 s, P-frames <= 30 s at 128 px on 2 threads",
        ),
        "sample": Preset(
            "sample",
            FieldConfig(
                density_res=(7, 13, 25, 49), plane_res=(9, 17, 33, 65), channels=8,
                hidden=(32, 32),
            ).validate(),
            TrainConfig(batch_rays=2048, key_steps=1200, p_steps=200).validate(),
            note="the bundled sample clip: 64 px synthetic scene, a few seconds per frame",
        ),
        "default": Preset(
            "default",
            FieldConfig(render=RenderParams(step_floor_res=FAST_STEP_FLOOR)).validate(),
            TrainConfig(key_steps=6000, p_steps=1000).validate(),
            note="a few minutes per frame on CPU; the top rate track's P-frames converge "
            "(issue 4's RD lines, docs/RESULTS.md)",
        ),
        "best": Preset(
            "best",
            FieldConfig(
                density_res=(17, 33, 65, 129), plane_res=(33, 65, 129, 257), channels=12,
                hidden=(64, 64),
            ).validate(),
            TrainConfig(batch_rays=8192, key_steps=20000, p_steps=4000).validate(),
            note="GPU-sized",
        ),
    }


PRESETS = _presets()


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}") from None


__all__ = ["TrainConfig", "Preset", "PRESETS", "preset"]
