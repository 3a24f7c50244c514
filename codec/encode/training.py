"""Drive the trainer (codec/train) GoF by GoF and return float chains, with per-frame
checkpoints so that a killed encode resumes and ends byte-identical.

Each finished frame's float chain F_t (all levels), the GoF's MLP and the rate model's state are
saved to ``work_dir/frame_XXXXX.npz`` (numpy, no pickle) before the next frame starts; on a
rerun with the same settings the finished frames are loaded instead of trained. Training is a
deterministic function of (settings, dataset, seed), so the resumed run equals an
uninterrupted one. A ``settings.json`` in the work dir guards against resuming with other
settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.entropy.rate_model import RateConfig, RateModel
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


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".partial.npz")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _frame_kb(dens_chain, plane_chain, steps: np.ndarray) -> float:
    """Coded KB of the newest frame at the highest track (tables fitted to it alone)."""
    from codec.entropy.coder import encode_channels
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
        payload, _ = encode_channels(syms, [fit_table(x.reshape(-1)) for x in syms])
        total += len(payload)
    return total / 1024


def train_chains(
    dataset, settings, device: torch.device, work_dir: Path | None, *, progress: bool = True
) -> tuple[list[GofChains], FieldConfig, dict[str, Any]]:
    """Train every frame (GoF by GoF); returns the float chains, the field shape and info
    (``rate_model_bytes_per_track``: the learned model's estimate of the coded symbols)."""
    from tqdm import tqdm

    from codec.field.mlp import init_mlp
    from codec.train.config import preset as get_preset
    from codec.train.frame import FrameTrainer
    from codec.train.init import hull_targets, levels_from_targets, visual_hull
    from codec.train.params import LevelParams
    from codec.train.rays import changed_pixels, frame_rays

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

    aabb = torch.as_tensor(np.asarray(dataset.aabb, np.float32), device=device)
    background = torch.as_tensor(np.asarray(dataset.background, np.float32), device=device)
    views = list(dataset.train_views)
    ids = dataset.frame_ids
    levels = field_cfg.levels
    chains: list[GofChains] = []
    total_steps = sum(
        cfg.key_steps if (t % gof == 0 or not settings.residuals) else cfg.p_steps
        for t in range(frames)
    )
    bar = tqdm(total=total_steps, desc="encode", unit="step", disable=not progress)
    kb_done: list[float] = []
    estimates: np.ndarray | None = None
    prev_rays = None
    for g in range(-(-frames // gof)):
        gframes = list(range(g * gof, min(frames, (g + 1) * gof)))
        model = RateModel(levels, 1 + field_cfg.channels, rate_cfg).to(device)
        hook = JointRateHook(model, JointRateConfig(seed=settings.seed)) if settings.joint_rate else None
        dens_chain: list[list[torch.Tensor]] = []
        plane_chain: list[list[torch.Tensor]] = []
        mlp = None
        for t in gframes:
            is_key = t == gframes[0] or not settings.residuals
            ckpt = work / f"frame_{t:05d}.npz" if work is not None else None
            rays = None
            if ckpt is not None and ckpt.exists():
                arr = _load_npz(ckpt)
                dens = [torch.from_numpy(arr[f"d{lv}"]).to(device) for lv in range(levels)]
                planes = [torch.from_numpy(arr[f"p{lv}"]).to(device) for lv in range(levels)]
                n_layers = int(arr["layers"][0])
                mlp = [(torch.from_numpy(arr[f"w{i}"]).to(device), torch.from_numpy(arr[f"b{i}"]).to(device))
                       for i in range(n_layers)]
                if hook is not None:
                    hook.load_state_arrays(arr)
                bar.set_description(f"frame {t}/{frames} resumed")
                bar.update(cfg.key_steps if is_key else cfg.p_steps)
            else:
                rays = frame_rays(dataset, ids[t], views, device)
                if is_key:
                    gen = torch.Generator().manual_seed(settings.seed * 7919 + t)
                    hull = visual_hull(rays.cameras, rays.alphas(), aabb, field_cfg.density_res[-1],
                                       cfg.hull_alpha, cfg.hull_dilate)
                    targets = hull_targets(hull, field_cfg.density_res, cfg.hull_inside, cfg.hull_outside)
                    base_d = levels_from_targets(targets)
                    base_p = [torch.zeros(3, field_cfg.channels, m, m, device=device)
                              for m in field_cfg.plane_res]
                    if mlp is None or not settings.residuals:
                        mlp = [(w.to(device), b.to(device)) for w, b in init_mlp(
                            field_cfg.feature_dim + field_cfg.view_dim, field_cfg.hidden, gen)]
                    motion = None
                else:
                    base_d = [d.to(device) for d in dens_chain[-1]]
                    base_p = [p.to(device) for p in plane_chain[-1]]
                    if prev_rays is None:
                        prev_rays = frame_rays(dataset, ids[t - 1], views, device)
                    motion = changed_pixels(rays, prev_rays, cfg.motion_threshold)
                params = LevelParams(base_d, base_p)
                if hook is not None:
                    hook.begin_frame(t, is_key)
                    hook.bind(params)
                trainer = FrameTrainer(
                    field_cfg, cfg, params, mlp, rays, aabb, background, is_key=is_key,
                    seed=settings.seed * 100_003 + t, motion=motion, rate_hook=hook,
                )
                stage = "I" if is_key else "P"
                kb = f" last {kb_done[-1]:.1f} KB" if kb_done else ""
                bar.set_description(f"frame {t}/{frames} {stage}-frame{kb}")
                trainer.run(progress=bar if progress else None)
                dens, planes = params.current()
                mlp = [(w.detach(), b.detach()) for w, b in trainer.mlp]
                if ckpt is not None:
                    arrays: dict[str, Any] = {f"d{lv}": dens[lv].cpu().numpy() for lv in range(levels)}
                    arrays.update({f"p{lv}": planes[lv].cpu().numpy() for lv in range(levels)})
                    arrays["layers"] = np.array([len(mlp)], np.int64)
                    for i, (w, b) in enumerate(mlp):
                        arrays[f"w{i}"] = w.cpu().numpy()
                        arrays[f"b{i}"] = b.cpu().numpy()
                    if hook is not None:
                        arrays.update(hook.state_arrays())
                    _save_npz(ckpt, arrays)
            prev_rays = rays
            dens_chain.append([d.detach().cpu() for d in dens])
            plane_chain.append([p.detach().cpu() for p in planes])
            if progress:
                kb_done.append(_frame_kb(dens_chain, plane_chain, model.steps_table().cpu().numpy()))
        steps = model.steps_table().cpu().numpy()
        assert mlp is not None
        gof_chains = GofChains(dens_chain, plane_chain, [(w.cpu(), b.cpu()) for w, b in mlp], steps)
        if hook is not None:
            bar.set_description(f"GoF {g}: rate-model estimate")
            est = estimate_bits(model.cpu(), gof_chains, steps) / 8
            estimates = est if estimates is None else estimates + est
        chains.append(gof_chains)
    bar.close()
    info: dict[str, Any] = {}
    if estimates is not None:
        info["rate_model_bytes_per_track"] = [float(x) for x in estimates]
    return chains, field_cfg, info
