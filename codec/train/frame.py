"""The optimization loop of one frame (I or P), resumable at any step."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from ..field.config import FieldConfig
from ..field.grids import MLPWeights
from ..field.occupancy import occupancy_grid, step_size
from .config import TrainConfig
from .hooks import NoRate, RateHook
from .init import carve_outside_hull_
from .losses import (
    add_residual_l1_grad_,
    add_total_variation_grad_,
    mse,
    psnr_from_mse,
    soft_threshold_,
)
from .params import LevelParams
from .rays import FrameRays, targets_over
from .render import occupied_box, render_train
from .schedule import LevelSchedule

UNSEEN_ERROR = 3.0
"""Squared RGB error a changed pixel counts with before its first render (the largest possible)."""
ERROR_FLOOR = 1e-5
"""Added to every recorded error so a pixel that is fitted still gets drawn now and then."""


@dataclass
class FrameLog:
    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """Process CPU time (all threads): on a busy machine a steadier cost figure than wall."""
    train_psnr: float = 0.0
    """Running (EMA) PSNR of the supervised batches, random backgrounds included."""


class FrameTrainer:
    """Trains one frame's `LevelParams` (and, for an I-frame, the GoF's MLP).

    All randomness comes from one seeded generator whose state is part of `state_arrays`, so
    a run interrupted after k steps and restored continues bit for bit.
    """

    def __init__(
        self,
        field: FieldConfig,
        cfg: TrainConfig,
        params: LevelParams,
        mlp: MLPWeights,
        rays: FrameRays,
        aabb: torch.Tensor,
        background: torch.Tensor,
        *,
        is_key: bool,
        seed: int,
        train_mlp: bool | None = None,
        motion: torch.Tensor | None = None,
        rate_hook: RateHook | None = None,
        hulls: list[torch.Tensor] | None = None,
    ):
        self.field, self.cfg, self.params, self.rays = field, cfg, params, rays
        self.aabb, self.background = aabb, background
        self.is_key = is_key
        self.device = aabb.device
        self.rate_hook = rate_hook or NoRate()
        self.hulls = hulls
        self.motion = motion if motion is not None and motion.numel() > 0 else None
        self.steps = cfg.key_steps if is_key else cfg.p_steps
        self.batch_rays = (
            cfg.batch_rays if is_key else max(1, round(cfg.batch_rays * cfg.p_batch_fraction))
        )
        self.schedule = LevelSchedule(
            steps=self.steps,
            levels=params.levels,
            progressive=cfg.progressive and (is_key or cfg.p_progressive),
            multi_level=cfg.multi_level,
            on_fraction=cfg.level_on_fraction,
            freeze_fraction=cfg.freeze_fraction,
            low_weight=(
                cfg.level_weight_low if is_key or cfg.p_level_weight_low is None
                else cfg.p_level_weight_low
            ),
            lr_final_ratio=cfg.lr_final_ratio if is_key else cfg.p_lr_final_ratio,
            low_weights=(
                cfg.level_weights_low if is_key
                else cfg.p_level_weights_low
            ),
            lr_hold=0.0 if is_key else cfg.p_lr_hold,
        )
        self.train_mlp = is_key if train_mlp is None else train_mlp
        self.mlp = [(w.detach().clone(), b.detach().clone()) for w, b in mlp]
        mlp_tensors = [t for pair in self.mlp for t in pair]
        for t in mlp_tensors:
            t.requires_grad_(self.train_mlp)
        lr_d = cfg.key_lr_density if is_key else cfg.p_lr_density
        lr_p = cfg.key_lr_planes if is_key else cfg.p_lr_planes
        groups = [
            {"params": params.delta_density, "lr": lr_d, "name": "density"},
            {"params": params.delta_planes, "lr": lr_p, "name": "planes"},
        ]
        if self.train_mlp:
            groups.append({"params": mlp_tensors, "lr": cfg.key_lr_mlp, "name": "mlp"})
        hook_params = list(self.rate_hook.parameters())
        if hook_params:
            groups.append({"params": hook_params, "lr": cfg.key_lr_mlp, "name": "rate"})
        self.base_lr = [g["lr"] for g in groups]
        self.optimizer = torch.optim.Adam(
            groups,
            betas=(0.9, 0.99) if is_key else tuple(cfg.p_adam_betas),
            eps=1e-15 if is_key else cfg.p_adam_eps,
            fused=True,
        )
        self.ray_error: torch.Tensor | None = None
        """Per changed pixel: squared error of its last full-LOD render (P-frames with
        `p_error_ray_fraction` > 0), UNSEEN_ERROR until first drawn."""
        if not is_key and self.motion is not None and cfg.p_error_ray_fraction > 0:
            self.ray_error = torch.full((self.motion.numel(),), UNSEEN_ERROR)
        self._picked: torch.Tensor | None = None
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(seed)
        self.step = 0
        self.occupancy: dict[int, torch.Tensor] = {}
        self.occupied_boxes: dict[int, torch.Tensor | None] = {}
        self.log = FrameLog()
        self._ema: float | None = None

    # ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def refresh_occupancy(self, active: int) -> None:
        """Occupancy of every active LOD from the current tensors (the renderers' definition)."""
        if self.hulls is not None:
            p = self.params
            outside = self.cfg.hull_outside
            if not self.is_key and self.cfg.p_carve_outside is not None:
                outside = self.cfg.p_carve_outside
            carve_outside_hull_(p.base_density, p.delta_density, self.hulls, outside)
        for lod in range(1, active + 1):
            dens, _ = self.params.composed(lod)
            step = step_size(self.aabb, dens.shape[-1], self.field.render)
            self.occupancy[lod] = occupancy_grid(dens, step, self.field.render)
            self.occupied_boxes[lod] = occupied_box(self.occupancy[lod], self.aabb)

    def _draw_rays(self) -> torch.Tensor:
        n, count = self.batch_rays, self.rays.count
        if self.motion is None or self.cfg.motion_ray_fraction <= 0:
            return torch.randint(count, (n,), generator=self.generator).to(self.device)
        n_motion = int(round(n * self.cfg.motion_ray_fraction))
        if self.ray_error is None:
            pick = torch.randint(self.motion.numel(), (n_motion,), generator=self.generator)
        else:
            pick = self._draw_by_error(n_motion)
        rest = torch.randint(count, (n - n_motion,), generator=self.generator)
        return torch.cat((self.motion[pick.to(self.motion.device)], rest.to(self.device)))

    def _draw_by_error(self, n_motion: int) -> torch.Tensor:
        """Motion-pixel positions: a share ∝ last squared error, the rest uniform."""
        assert self.ray_error is not None
        n_err = int(round(n_motion * self.cfg.p_error_ray_fraction))
        cdf = torch.cumsum(self.ray_error.double(), 0)
        u = torch.rand(n_err, generator=self.generator, dtype=torch.float64) * cdf[-1]
        by_error = torch.searchsorted(cdf, u).clamp_max_(cdf.numel() - 1)
        uniform = torch.randint(self.motion.numel(), (n_motion - n_err,), generator=self.generator)
        self._picked = torch.cat((by_error, uniform))
        return self._picked

    @torch.no_grad()
    def _record_error(self, rgb: torch.Tensor, target: torch.Tensor) -> None:
        """Store the drawn motion pixels' squared errors (one value per pixel, deterministic
        when a pixel was drawn twice: the larger)."""
        assert self.ray_error is not None and self._picked is not None
        k = self._picked.numel()
        err = (rgb[:k].detach() - target[:k]).pow(2).sum(dim=1).float()
        where, inverse = torch.unique(self._picked, return_inverse=True)
        most = torch.zeros(where.numel()).scatter_reduce_(0, inverse, err, "amax")
        self.ray_error[where] = most + ERROR_FLOOR

    def _pick_lods(self, lods: tuple[int, ...], weights: tuple[float, ...]) -> list[tuple[int, float]]:
        if len(lods) == 1:
            return [(lods[0], 1.0)]
        if self.cfg.lod_sampling:
            probs = torch.tensor(weights, dtype=torch.float64)
            i = int(torch.multinomial(probs / probs.sum(), 1, generator=self.generator))
            return [(lods[i], 1.0)]
        total = sum(weights)
        return [(lod, w / total) for lod, w in zip(lods, weights)]

    def train_step(self) -> float:
        plan = self.schedule.plan(self.step)
        cfg = self.cfg
        if self.step % cfg.occupancy_every == 0 or any(
            lod not in self.occupancy for lod in range(1, plan.active + 1)
        ):
            self.refresh_occupancy(plan.active)
        for group, base in zip(self.optimizer.param_groups, self.base_lr):
            group["lr"] = base * plan.lr_scale
        idx = self._draw_rays()
        r = self.rays
        origins, dirs, rgba = (t.index_select(0, idx) for t in (r.origins, r.dirs, r.rgba))
        if cfg.random_background and self.rays.has_alpha:
            bg = torch.rand(idx.shape[0], 3, generator=self.generator).to(self.device)
        else:
            bg = self.background.expand(idx.shape[0], 3)
        target = targets_over(rgba, bg)
        jitter = torch.rand(idx.shape[0], generator=self.generator).to(self.device)
        simulate = self.rate_hook.simulate
        loss = torch.zeros((), device=self.device)
        photo = 0.0
        mlp = self.mlp
        if self.train_mlp and not plan.train_mlp:
            mlp = [(w.detach(), b.detach()) for w, b in self.mlp]
        for lod, weight in self._pick_lods(plan.lods, plan.weights):
            # Frozen levels stay out of the graph: their gradients would be dropped anyway
            # (`_mask_untrainable`), and the trainable ones' are the same numbers either way.
            grads = [i in plan.trainable for i in range(lod)]
            dens = [self.params.level_density(i, simulate, grad=g) for i, g in enumerate(grads)]
            planes = [self.params.level_planes(i, simulate, grad=g) for i, g in enumerate(grads)]
            rgb, _ = render_train(
                dens, planes, mlp, self.aabb, self.field.render, origins, dirs, bg,
                self.occupancy[lod], jitter, self.occupied_boxes[lod],
            )
            err = mse(rgb, target)
            loss = loss + weight * err
            if lod == plan.active:
                photo = float(err.detach())
            if self.ray_error is not None and lod == self.params.levels:
                self._record_error(rgb, target)
        deltas = {("density", i): self.params.delta_density[i] for i in plan.trainable}
        deltas.update({("planes", i): self.params.delta_planes[i] for i in plan.trainable})
        loss = loss + self.rate_hook.loss(deltas, self.step / max(self.steps, 1)).to(loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._add_regularizer_grads(plan.trainable)
        self._mask_untrainable(plan.trainable, plan.train_mlp)
        self.optimizer.step()
        if not self.is_key and cfg.residual_prox > 0:
            for group in self.optimizer.param_groups[:2]:
                amount = cfg.residual_prox * group["lr"]
                for lvl in plan.trainable:
                    soft_threshold_(group["params"][lvl], amount)
        self.step += 1
        if photo > 0:
            p = psnr_from_mse(photo)
            self._ema = p if self._ema is None else 0.95 * self._ema + 0.05 * p
        return photo

    def _add_regularizer_grads(self, trainable: tuple[int, ...]) -> None:
        """Plane TV and (P-frames) residual L1, added as exact gradients (see losses.py)."""
        cfg, p = self.cfg, self.params
        if cfg.tv_planes > 0:
            for i in trainable:
                add_total_variation_grad_(p.level_planes(i).detach(), p.delta_planes[i],
                                          cfg.tv_planes)
        if not self.is_key:
            dens = [p.delta_density[i] for i in trainable]
            planes = [p.delta_planes[i] for i in trainable]
            count = sum(t.numel() for t in dens + planes)
            w_planes = cfg.residual_l1 if cfg.residual_l1_planes is None else cfg.residual_l1_planes
            mult = cfg.residual_l1_levels
            if mult is None:
                add_residual_l1_grad_(dens, cfg.residual_l1, count)
            else:
                for i, d in zip(trainable, dens):
                    add_residual_l1_grad_([d], cfg.residual_l1 * mult[min(i, len(mult) - 1)], count)
            add_residual_l1_grad_(planes, w_planes, count)

    def _mask_untrainable(self, trainable: tuple[int, ...], train_mlp: bool) -> None:
        """Drop gradients of frozen tensors: Adam skips a tensor whose grad is None."""
        for lvl in range(self.params.levels):
            if lvl not in trainable:
                self.params.delta_density[lvl].grad = None
                self.params.delta_planes[lvl].grad = None
        if self.train_mlp and not train_mlp:
            for w, b in self.mlp:
                w.grad = None
                b.grad = None

    def run(self, until: int | None = None, progress=None) -> FrameLog:
        """Train up to step `until` (default: the whole budget); `progress` is a tqdm bar."""
        stop = self.steps if until is None else min(until, self.steps)
        start, cpu_start = time.perf_counter(), time.process_time()
        while self.step < stop:
            self.train_step()
            if progress is not None:
                progress.update(1)
                if self.step % 10 == 0 and self._ema is not None:
                    progress.set_postfix_str(f"psnr {self._ema:.2f}")
        self.log.steps = self.step
        self.log.seconds += time.perf_counter() - start
        self.log.cpu_seconds += time.process_time() - cpu_start
        self.log.train_psnr = self._ema or 0.0
        return self.log

    @property
    def done(self) -> bool:
        return self.step >= self.steps
