"""Drive the trainer (codec/train's `GoFTrainer`) GoF by GoF and return float chains.

Each GoF checkpoints to ``work_dir/gof_XXXX.npz`` (numpy, no pickle) every
``checkpoint_every`` steps and after every frame, optimizer, RNG and the rate hook's state
included (codec/train/checkpoint.py), so a killed encode rerun with the same command resumes
and ends byte-identical. A ``settings.json`` in the work dir guards against resuming with other
settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.entropy.rate_model import RateConfig, RateModel, level_step_scales
from codec.errors import FieldCastError
from codec.field.config import FieldConfig

from .quantized import GofChains
from .rate_hook import JointRateConfig, JointRateHook, estimate_bits


def _field_for(settings, preset_field: FieldConfig) -> FieldConfig:
    if settings.levels is None or settings.levels == preset_field.levels:
        return preset_field
    n = settings.levels
    if n < 1:
        raise FieldCastError("--levels must be >= 1")
    d, p = list(preset_field.density_res), list(preset_field.plane_res)
    while len(d) < n:
        d.append(2 * (d[-1] - 1) + 1)
        p.append(2 * (p[-1] - 1) + 1)
    try:
        return FieldConfig(
            density_res=tuple(d[:n]), plane_res=tuple(p[:n]), channels=preset_field.channels,
            hidden=preset_field.hidden, render=preset_field.render,
        ).validate()
    except ValueError as exc:
        raise FieldCastError(str(exc)) from None


def _frame_kb(dens_chain, plane_chain, steps: np.ndarray) -> float:
    """Coded KB of the newest frame at the highest track (tables fitted to it alone)."""
    from codec.entropy.coder import block_flags, element_mask, encode_channels
    from codec.entropy.tables import fit_table
    from codec.quantize.closed_loop import quantize_frame, split_channels

    total = 0
    r = steps.shape[0] - 1
    for lv in range(len(dens_chain[-1])):
        cur = split_channels(dens_chain[-1][lv], plane_chain[-1][lv])
        prev = split_channels(dens_chain[-2][lv], plane_chain[-2][lv]) if len(dens_chain) > 1 else None
        syms = []
        for c, v in enumerate(cur):
            s = float(steps[r, lv, c])
            q_prev = quantize_frame(prev[c], s, None)[1] if prev is not None else None
            syms.append(quantize_frame(v, s, q_prev)[0].numpy())
        # Like the writer: each table is fitted to the symbols inside non-zero blocks.
        tables = [fit_table(x[element_mask(block_flags(x), x.shape)]) for x in syms]
        payload, _ = encode_channels(syms, tables)
        total += len(payload)
    return total / 1024


def train_chains(
    dataset, settings, device: torch.device, work_dir: Path | None, *, progress: bool = True,
    interrupt_after: int | None = None,
) -> tuple[list[GofChains], FieldConfig, dict[str, Any]]:
    """Train every GoF with codec.train's `GoFTrainer` (checkpoint per GoF in `work_dir`,
    mid-frame included, the rate hook's state with it) and return the float chains, the field
    shape and info (``rate_model_bytes_per_track``: the learned model's estimate of the real
    symbols, to compare with the coded bytes; ``frames``: per trained frame its id, I or P, steps,
    wall and CPU seconds, for `fieldcast bench encode`). ``interrupt_after`` stops (checkpoint saved,
    `codec.train.gof.Interrupted` raised) after that many steps of the first GoF: for tests."""
    from codec.train.config import preset as get_preset

    try:
        pre = get_preset(settings.preset)
    except ValueError as exc:
        raise FieldCastError(str(exc)) from None
    field_cfg = _field_for(settings, pre.field)
    overrides = {k: v for k, v in (("key_steps", settings.key_steps), ("p_steps", settings.p_steps))
                 if v is not None}
    try:
        cfg = pre.train.with_(
            seed=settings.seed, residuals=settings.residuals, progressive=settings.progressive,
            **overrides,
        )
    except ValueError as exc:
        raise FieldCastError(str(exc)) from None
    frames = min(settings.frames or dataset.num_frames, dataset.num_frames)
    gof = max(1, min(settings.gof, frames))
    rate_cfg = RateConfig(tracks=settings.tracks)
    if settings.only_track is not None:
        if not 0 <= settings.only_track < settings.tracks:
            raise FieldCastError(f"only_track must be 0..{settings.tracks - 1}")
        lam = rate_cfg.track_lambdas()[settings.only_track]
        rate_cfg = RateConfig(tracks=1, lambdas=(lam,),
                              base_step=rate_cfg.base_step / rate_cfg.gain_ratio**settings.only_track)
    work = Path(work_dir) if work_dir is not None else None
    if work is not None:
        work.mkdir(parents=True, exist_ok=True)
        stamp = json.dumps({"settings": settings.to_dict(), "frames": frames}, sort_keys=True)
        mark = work / "settings.json"
        if mark.exists() and mark.read_text() != stamp:
            raise FieldCastError(
                f"{work} holds checkpoints of another encode; remove it or pass --work-dir"
            )
        mark.write_text(stamp)

    ids = dataset.frame_ids
    chains: list[GofChains] = []
    estimates: np.ndarray | None = None
    frame_log: list[dict[str, Any]] = []
    n_gofs = -(-frames // gof)
    scales = level_step_scales(field_cfg.density_res, field_cfg.plane_res,
                               rate_cfg.level_step_exponent)
    for g in range(n_gofs):
        gframes = [ids[t] for t in range(g * gof, min(frames, (g + 1) * gof))]
        model = RateModel(field_cfg.levels, 1 + field_cfg.channels, rate_cfg, scales).to(device)
        hook_cfg = JointRateConfig(seed=settings.seed)
        if settings.only_track is not None:
            hook_cfg = hook_cfg.for_single_track()
        hook = JointRateHook(model, hook_cfg) if settings.joint_rate else None
        trainer = _HookedGoFTrainer(
            dataset, gframes, field_cfg, cfg, device, rate_hook=hook,
            checkpoint=(work / f"gof_{g:04d}.npz") if work is not None else None,
            progress=progress,
        )
        if progress:
            from tqdm import tqdm

            tqdm.write(f"GoF {g + 1}/{n_gofs}: frames {gframes[0]}..{gframes[-1]}"
                       f" ({'joint rate' if hook else 'no rate term'})")
        result = trainer.run(max_steps=interrupt_after if g == 0 else None)
        steps = model.steps_table().cpu().numpy()
        gof_chains = GofChains(
            [[d.detach().cpu() for d in fr.density] for fr in result.frames],
            [[p.detach().cpu() for p in fr.planes] for fr in result.frames],
            [(w.detach().cpu(), b.detach().cpu()) for w, b in result.mlp],
            steps,
        )
        if progress:
            from tqdm import tqdm

            for fr in result.frames:
                tqdm.write(f"  frame {fr.frame_id} ({'I' if fr.is_key else 'P'}): train PSNR "
                           f"{fr.train_psnr:.2f} dB, {fr.seconds:.1f} s")
            tqdm.write(f"  GoF {g + 1}: {_frame_kb(gof_chains.density, gof_chains.planes, steps):.1f}"
                       " KB for its last frame (highest track)")
        frame_log += [
            {"frame": fr.frame_id, "key": fr.is_key, "steps": fr.steps, "seconds": fr.seconds,
             "cpu_seconds": fr.cpu_seconds}
            for fr in result.frames
        ]
        if hook is not None:
            est = estimate_bits(model.cpu(), gof_chains, steps) / 8
            estimates = est if estimates is None else estimates + est
        chains.append(gof_chains)
    info: dict[str, Any] = {"frames": frame_log}
    if estimates is not None:
        info["rate_model_bytes_per_track"] = [float(x) for x in estimates]
    return chains, field_cfg, info


def _hooked_trainer_class():
    from codec.train.gof import GoFTrainer

    class HookedGoFTrainer(GoFTrainer):
        """Binds the rate hook to each frame's parameters and sets which rate parameters train
        *before* the frame's optimizer is built (steps are frozen after the I-frame)."""

        def _make_trainer(self, index: int):  # noqa: ANN202
            hook = self.rate_hook
            if isinstance(hook, JointRateHook):
                hook.prepare_frame(index, index == 0 or not self.cfg.residuals)
            out = super()._make_trainer(index)
            if isinstance(hook, JointRateHook):
                frame = out[0]
                geometry = (frame.aabb, frame.field.render) if hasattr(frame, "aabb") else None
                hook.bind(frame.params, getattr(frame, "occupancy", None), geometry)
            return out

    return HookedGoFTrainer


def _HookedGoFTrainer(*args, **kw):  # noqa: N802 - a lazily built class, called like one
    return _hooked_trainer_class()(*args, **kw)
