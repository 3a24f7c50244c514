"""Safe training checkpoints: one npz of plain arrays (allow_pickle=False), written atomically.

Holds the finished frames (F_t and R_t per level, stats), the GoF's MLP, and, mid-frame, the
frame trainer's complete state: base and delta tensors, the MLP copy being trained, Adam's
moments and step counts, the generator state, the occupancy grids and the step. Restoring all
of it makes an interrupted run continue bit for bit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import FieldCastError

if TYPE_CHECKING:
    from .frame import FrameTrainer
    from .gof import GoFTrainer

VERSION = 1


class CheckpointError(FieldCastError):
    """A checkpoint is damaged or was written by a run with other settings."""


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


def _field_dict(field) -> dict:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(field)))


def save_checkpoint(path: Path, gof: GoFTrainer, trainer: FrameTrainer | None) -> None:
    arrays: dict[str, np.ndarray] = {}
    meta = {
        "version": VERSION,
        "field": _field_dict(gof.field),
        "train": json.loads(json.dumps(gof.cfg.to_dict())),
        "frame_ids": gof.frame_ids,
        "views": gof.views,
        "done": len(gof.result.frames),
        "mid_frame": trainer is not None,
        "frames": [],
    }
    for i, (w, b) in enumerate(gof.result.mlp):
        arrays[f"mlp/{i}/w"], arrays[f"mlp/{i}/b"] = _np(w), _np(b)
    for k, fr in enumerate(gof.result.frames):
        meta["frames"].append({
            "frame_id": fr.frame_id, "is_key": fr.is_key, "seconds": fr.seconds,
            "cpu_seconds": fr.cpu_seconds, "steps": fr.steps, "train_psnr": fr.train_psnr,
            "residuals": fr.residual_density is not None,
        })
        for lvl in range(len(fr.density)):
            arrays[f"f{k}/density/{lvl}"] = _np(fr.density[lvl])
            arrays[f"f{k}/planes/{lvl}"] = _np(fr.planes[lvl])
            if fr.residual_density is not None:
                arrays[f"f{k}/res_density/{lvl}"] = _np(fr.residual_density[lvl])
                arrays[f"f{k}/res_planes/{lvl}"] = _np(fr.residual_planes[lvl])
    hook_state = getattr(gof.rate_hook, "state_arrays", None)
    if hook_state is not None:  # the codec's rate hook (issue 4): its model and step counter
        arrays.update(hook_state())
    if trainer is not None:
        meta["trainer"] = {
            "step": trainer.step, "ema": trainer._ema, "seconds": trainer.log.seconds,
            "cpu_seconds": trainer.log.cpu_seconds, "occupancy": sorted(trainer.occupancy),
        }
        arrays.update(trainer_arrays(trainer))
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def trainer_arrays(trainer: FrameTrainer) -> dict[str, np.ndarray]:
    """Everything a FrameTrainer needs to continue exactly where it stopped."""
    out: dict[str, np.ndarray] = {}
    p = trainer.params
    for lvl in range(p.levels):
        out[f"cur/base_density/{lvl}"] = _np(p.base_density[lvl])
        out[f"cur/base_planes/{lvl}"] = _np(p.base_planes[lvl])
        out[f"cur/delta_density/{lvl}"] = _np(p.delta_density[lvl])
        out[f"cur/delta_planes/{lvl}"] = _np(p.delta_planes[lvl])
    for i, (w, b) in enumerate(trainer.mlp):
        out[f"cur/mlp/{i}/w"], out[f"cur/mlp/{i}/b"] = _np(w), _np(b)
    index = {id(t): n for n, t in enumerate(_all_params(trainer))}
    for param, state in trainer.optimizer.state.items():
        n = index[id(param)]
        for key, value in state.items():
            out[f"cur/adam/{n}/{key}"] = _np(torch.as_tensor(value))
    out["cur/generator"] = trainer.generator.get_state().numpy()
    for lod, occ in trainer.occupancy.items():
        out[f"cur/occupancy/{lod}"] = _np(occ)
    if trainer.ray_error is not None:
        out["cur/ray_error"] = _np(trainer.ray_error)
    return out


def _all_params(trainer: FrameTrainer) -> list[torch.Tensor]:
    return [t for g in trainer.optimizer.param_groups for t in g["params"]]


def load_checkpoint(path: Path, gof: GoFTrainer) -> Callable[[FrameTrainer], None] | None:
    """Restore finished frames into `gof`; return a function that restores the interrupted
    frame's trainer (or None when the checkpoint sits between frames)."""
    from .gof import FrameResult

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if meta.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path} has version {meta.get('version')}")
    expected = {
        "field": _field_dict(gof.field), "train": json.loads(json.dumps(gof.cfg.to_dict())),
        "frame_ids": gof.frame_ids, "views": gof.views,
    }
    for key, value in expected.items():
        if meta.get(key) != value:
            raise CheckpointError(
                f"checkpoint {path} was written with other {key}; delete it to start afresh"
            )
    dev = gof.device

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(arrays[name].copy()).to(dev)

    hook_load = getattr(gof.rate_hook, "load_state_arrays", None)
    if hook_load is not None and any(k.startswith("rate.") for k in arrays):
        hook_load({k: v for k, v in arrays.items() if k.startswith("rate.")})
    n_layers = sum(1 for k in arrays if k.startswith("mlp/") and k.endswith("/w"))
    gof.result.mlp = [(t(f"mlp/{i}/w"), t(f"mlp/{i}/b")) for i in range(n_layers)]
    levels = gof.field.levels
    gof.result.frames = []
    for k, info in enumerate(meta["frames"]):
        res = info["residuals"]
        gof.result.frames.append(FrameResult(
            info["frame_id"], info["is_key"],
            [t(f"f{k}/density/{lvl}") for lvl in range(levels)],
            [t(f"f{k}/planes/{lvl}") for lvl in range(levels)],
            [t(f"f{k}/res_density/{lvl}") for lvl in range(levels)] if res else None,
            [t(f"f{k}/res_planes/{lvl}") for lvl in range(levels)] if res else None,
            seconds=info["seconds"], cpu_seconds=info["cpu_seconds"], steps=info["steps"], train_psnr=info["train_psnr"],
        ))
    if not meta["mid_frame"]:
        return None
    state = meta["trainer"]

    def restore(trainer: FrameTrainer) -> None:
        p = trainer.params
        with torch.no_grad():
            for lvl in range(p.levels):
                p.base_density[lvl] = t(f"cur/base_density/{lvl}")
                p.base_planes[lvl] = t(f"cur/base_planes/{lvl}")
                p.delta_density[lvl].copy_(t(f"cur/delta_density/{lvl}"))
                p.delta_planes[lvl].copy_(t(f"cur/delta_planes/{lvl}"))
            for i, (w, b) in enumerate(trainer.mlp):
                w.copy_(t(f"cur/mlp/{i}/w"))
                b.copy_(t(f"cur/mlp/{i}/b"))
        params = _all_params(trainer)
        sd = trainer.optimizer.state_dict()
        sd["state"] = {}
        for n in range(len(params)):
            keys = [k for k in arrays if k.startswith(f"cur/adam/{n}/")]
            if keys:
                sd["state"][n] = {k.rsplit("/", 1)[1]: torch.from_numpy(arrays[k].copy())
                                  for k in keys}
        trainer.optimizer.load_state_dict(sd)
        trainer.generator.set_state(torch.from_numpy(arrays["cur/generator"].copy()))
        trainer.occupancy = {lod: t(f"cur/occupancy/{lod}") for lod in state["occupancy"]}
        from .render import occupied_box

        trainer.occupied_boxes = {
            lod: occupied_box(occ, trainer.aabb) for lod, occ in trainer.occupancy.items()
        }
        if "cur/ray_error" in arrays:
            trainer.ray_error = t("cur/ray_error")
        trainer.step = state["step"]
        trainer._ema = state["ema"]
        trainer.log.seconds = state["seconds"]
        trainer.log.cpu_seconds = state["cpu_seconds"]

    return restore
