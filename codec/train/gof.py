"""Train one group of frames: the I-frame (full grids + the GoF's MLP), then P-frame residuals.

Output: the float chain F_t per level for every frame, the residuals R_t^l of the P-frames and
the GoF's MLP (`GoFResult`), from which `FrameGrids` are cut at any LOD.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..field.config import FieldConfig
from ..field.grids import FrameGrids, MLPWeights
from ..field.mlp import init_mlp, stored_mlp
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .frame import FrameTrainer
from .hooks import NoRate, RateHook
from .init import (
    hull_at_resolution,
    levels_from_targets,
    lift_new_hull_,
    visual_hull,
)
from .params import LevelParams
from .rays import FrameRays, changed_pixels, frame_rays


@dataclass
class FrameResult:
    """One trained frame: F_t per level, and for a P-frame the residuals R_t per level."""

    frame_id: int
    is_key: bool
    density: list[torch.Tensor]
    planes: list[torch.Tensor]
    residual_density: list[torch.Tensor] | None = None
    residual_planes: list[torch.Tensor] | None = None
    seconds: float = 0.0
    """Wall time of the frame's training, data preparation (rays, hull) included."""
    cpu_seconds: float = 0.0
    steps: int = 0
    train_psnr: float = 0.0

    def grids(self, mlp: MLPWeights, aabb: torch.Tensor, field_cfg: FieldConfig,
              lod: int | None = None) -> FrameGrids:
        lod = len(self.density) if lod is None else lod
        return FrameGrids(
            list(self.density[:lod]), list(self.planes[:lod]), mlp, aabb, field_cfg.render
        )


@dataclass
class GoFResult:
    field: FieldConfig
    train: TrainConfig
    mlp: MLPWeights
    aabb: torch.Tensor
    background: torch.Tensor
    frames: list[FrameResult] = field(default_factory=list)

    def grids(self, index: int, lod: int | None = None) -> FrameGrids:
        return self.frames[index].grids(self.mlp, self.aabb, self.field, lod)


class Interrupted(Exception):
    """Raised by `GoFTrainer.run(max_steps=...)` after saving its checkpoint (tests, Ctrl-C)."""


class GoFTrainer:
    """Trains `frame_ids` (first = I-frame) of `dataset` on `views` (default: its train views).

    With `checkpoint` set, progress is saved there (npz, no pickle) at the end of every frame
    and every `cfg.checkpoint_every` steps; a new trainer on the same path resumes bit for bit.
    """

    def __init__(
        self,
        dataset,
        frame_ids: Sequence[int],
        field_cfg: FieldConfig,
        cfg: TrainConfig,
        device: torch.device | str = "cpu",
        *,
        views: Sequence[int] | None = None,
        rate_hook: RateHook | None = None,
        checkpoint: Path | str | None = None,
        progress: bool = True,
    ):
        if not frame_ids:
            raise ValueError("a GoF needs at least one frame")
        self.dataset = dataset
        self.frame_ids = list(frame_ids)
        self.field = field_cfg.validate()
        self.cfg = cfg.validate()
        self.device = torch.device(device)
        self.views = list(views) if views is not None else list(dataset.train_views)
        self.rate_hook = rate_hook or NoRate()
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.progress = progress
        self.aabb = torch.as_tensor(dataset.aabb, dtype=torch.float32).to(self.device)
        self.background = torch.as_tensor(dataset.background, dtype=torch.float32).to(self.device)
        self.result = GoFResult(self.field, self.cfg, [], self.aabb, self.background)
        self._prev_rays: FrameRays | None = None
        self._prev_hulls: list[torch.Tensor] | None = None

    # --- per-frame preparation -------------------------------------------------------------
    def _hulls(self, rays: FrameRays) -> list[torch.Tensor]:
        fine = visual_hull(
            rays.cameras, rays.alphas(), self.aabb, self.field.density_res[-1],
            self.cfg.hull_alpha, self.cfg.hull_dilate,
        )
        return [hull_at_resolution(fine, n) for n in self.field.density_res]

    def _fresh_params(self, hulls: list[torch.Tensor]) -> LevelParams:
        cfg = self.cfg
        targets = [torch.where(h, cfg.hull_inside, cfg.hull_outside).float() for h in hulls]
        density = levels_from_targets(targets)
        planes = [
            torch.zeros(3, self.field.channels, m, m, device=self.device)
            for m in self.field.plane_res
        ]
        return LevelParams(density, planes)

    def _make_trainer(self, index: int) -> tuple[FrameTrainer, FrameRays, list[torch.Tensor]]:
        frame_id = self.frame_ids[index]
        rays = frame_rays(self.dataset, frame_id, self.views, self.device)
        hulls = self._hulls(rays)
        is_key = index == 0
        chained = not is_key and self.cfg.residuals
        if chained:
            prev = self.result.frames[index - 1]
            params = LevelParams(prev.density, prev.planes)
            if self.cfg.p_warm_start > 0 and prev.residual_density is not None:
                _warm_start_(params, prev, self.cfg.p_warm_start)
            if self._prev_hulls is not None and self.cfg.p_lift:
                new_region = [h & ~p for h, p in zip(hulls, self._prev_hulls)]
                floor = self.cfg.p_lift_density
                lift_new_hull_(
                    params.base_density, params.delta_density, new_region,
                    self.cfg.hull_inside if floor is None else floor,
                )
        else:
            params = self._fresh_params(hulls)
        motion = None
        if chained and self._prev_rays is not None:
            motion = changed_pixels(rays, self._prev_rays, self.cfg.motion_threshold)
        trainer = FrameTrainer(
            self.field,
            self.cfg,
            params,
            self.result.mlp,
            rays,
            self.aabb,
            self.background,
            is_key=is_key or not self.cfg.residuals,
            train_mlp=is_key or self.cfg.finetune_mlp,
            seed=self.cfg.seed * 1000003 + index,
            motion=motion,
            rate_hook=self.rate_hook,
            hulls=hulls,
        )
        return trainer, rays, hulls

    # --- main loop -------------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> GoFResult:
        """Train every frame; with `max_steps`, stop (checkpoint saved) after that many steps
        in this call and raise `Interrupted`."""
        resume = None
        if self.checkpoint is not None and self.checkpoint.exists():
            resume = load_checkpoint(self.checkpoint, self)
        if not self.result.mlp:
            gen = torch.Generator().manual_seed(self.cfg.seed)
            mlp = init_mlp(self.field.feature_dim + self.field.view_dim, self.field.hidden, gen)
            self.result.mlp = [(w.to(self.device), b.to(self.device)) for w, b in mlp]
        budget = max_steps
        start_index = len(self.result.frames)
        for index in range(start_index, len(self.frame_ids)):
            t_start, c_start = time.perf_counter(), time.process_time()
            if index > 0 and self._prev_rays is None:
                # Resuming mid-GoF: the previous frame's rays and hull are needed again.
                self._prev_rays = frame_rays(
                    self.dataset, self.frame_ids[index - 1], self.views, self.device
                )
                self._prev_hulls = self._hulls(self._prev_rays)
            trainer, rays, hulls = self._make_trainer(index)
            if resume is not None:
                resume(trainer)
                resume = None
            self.rate_hook.begin_frame(index, trainer.is_key)
            prep, prep_cpu = time.perf_counter() - t_start, time.process_time() - c_start
            kind = "I" if index == 0 else "P"
            with tqdm(
                total=trainer.steps, initial=trainer.step, disable=not self.progress,
                desc=f"frame {self.frame_ids[index]} ({kind})", leave=False,
            ) as bar:
                while not trainer.done:
                    chunk = self.cfg.checkpoint_every if self.checkpoint else trainer.steps
                    target = (trainer.step // chunk + 1) * chunk
                    if budget is not None:
                        target = min(target, trainer.step + budget)
                    before = trainer.step
                    trainer.run(until=target, progress=bar)
                    if budget is not None:
                        budget -= trainer.step - before
                    if self.checkpoint is not None and not trainer.done:
                        save_checkpoint(self.checkpoint, self, trainer)
                    if budget is not None and budget <= 0 and not trainer.done:
                        raise Interrupted(f"stopped at frame {index}, step {trainer.step}")
            trainer.log.seconds += prep
            trainer.log.cpu_seconds += prep_cpu
            self._finish_frame(index, trainer)
            self._prev_rays, self._prev_hulls = rays, hulls
            if self.checkpoint is not None:
                save_checkpoint(self.checkpoint, self, None)
            if budget is not None and budget <= 0 and index + 1 < len(self.frame_ids):
                raise Interrupted(f"stopped after frame {index}")
        return self.result

    def _finish_frame(self, index: int, trainer: FrameTrainer) -> None:
        density, planes = trainer.params.current()
        is_p = index > 0 and self.cfg.residuals
        res_d, res_p = trainer.params.residuals() if is_p else (None, None)
        if index == 0 or self.cfg.finetune_mlp:
            # Rounded as the file stores it, so later frames train against the decoder's MLP.
            self.result.mlp = stored_mlp(trainer.mlp)
        self.result.frames.append(
            FrameResult(
                self.frame_ids[index], index == 0, density, planes, res_d, res_p,
                seconds=trainer.log.seconds, cpu_seconds=trainer.log.cpu_seconds,
                steps=trainer.step, train_psnr=trainer.log.train_psnr,
            )
        )


@torch.no_grad()
def _warm_start_(params: LevelParams, prev: FrameResult, weight: float) -> None:
    """Start R_t at weight·R_{t-1}: where the previous frame moved, continue the move."""
    for delta, res in zip(params.delta_density, prev.residual_density or []):
        delta.add_(res, alpha=weight)
    for delta, res in zip(params.delta_planes, prev.residual_planes or []):
        delta.add_(res, alpha=weight)


def train_gof(dataset, frame_ids: Sequence[int], field_cfg: FieldConfig, cfg: TrainConfig,
              device: torch.device | str = "cpu", **kw) -> GoFResult:
    """Convenience wrapper: `GoFTrainer(...).run()`."""
    return GoFTrainer(dataset, frame_ids, field_cfg, cfg, device, **kw).run()
