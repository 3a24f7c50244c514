"""Progressive level schedule (HPC Alg. 1) and learning-rate decay tied to the step budget."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class StepPlan:
    """What one optimization step does."""

    active: int
    """Levels 1..active exist in the rendered field (higher levels are not yet switched on)."""
    trainable: tuple[int, ...]
    """0-based levels whose tensors receive updates this step."""
    lods: tuple[int, ...]
    """LODs (1-based) that may be supervised this step."""
    weights: tuple[float, ...]
    """α of each LOD in `lods` (HPC Eq. 11)."""
    train_mlp: bool
    lr_scale: float


@dataclass(frozen=True)
class LevelSchedule:
    """Levels switch on evenly over the first `on_fraction` of the steps; during the last
    `freeze_fraction` only the finest level trains (and only the full LOD is supervised).

    ``progressive=False`` is the ablation: every level from step 0, nothing frozen.
    ``multi_level=False`` is the ablation: only the finest active LOD is supervised.
    """

    steps: int
    levels: int
    progressive: bool = True
    multi_level: bool = True
    on_fraction: float = 0.4
    freeze_fraction: float = 0.1
    low_weight: float = 0.25
    lr_final_ratio: float = 0.05
    low_weights: tuple[float, ...] | None = None
    """α of each LOD (index = LOD − 1) when it is below the finest active one; None:
    `low_weight` for every lower LOD."""
    lr_hold: float = 0.0
    """The learning rate stays at its base for this first fraction of the steps, then decays
    exponentially to `lr_final_ratio` over the rest."""

    def switch_on_step(self, level: int) -> int:
        """First step at which 0-based `level` is active."""
        if not self.progressive or self.levels == 1 or level == 0:
            return 0
        return int(round(self.on_fraction * self.steps * level / (self.levels - 1)))

    def freeze_step(self) -> int:
        if not self.progressive or self.levels == 1:
            return self.steps
        return int(round(self.steps * (1.0 - self.freeze_fraction)))

    def lr_scale(self, step: int) -> float:
        """Exponential decay from 1 to lr_final_ratio over the budget."""
        frac = min(max(step / max(self.steps, 1), 0.0), 1.0)
        if self.lr_hold > 0:
            frac = max(frac - self.lr_hold, 0.0) / (1.0 - self.lr_hold)
        return math.exp(math.log(self.lr_final_ratio) * frac)

    def _low(self, lod: int) -> float:
        if self.low_weights is None:
            return self.low_weight
        return self.low_weights[min(lod, len(self.low_weights)) - 1]

    def plan(self, step: int) -> StepPlan:
        active = sum(1 for lvl in range(self.levels) if step >= self.switch_on_step(lvl))
        frozen = step >= self.freeze_step()
        if frozen:
            trainable: tuple[int, ...] = (active - 1,)
            lods: tuple[int, ...] = (active,)
        else:
            trainable = tuple(range(active))
            lods = tuple(range(1, active + 1)) if self.multi_level else (active,)
        weights = tuple(1.0 if lod == active else self._low(lod) for lod in lods)
        return StepPlan(active, trainable, lods, weights, not frozen, self.lr_scale(step))
