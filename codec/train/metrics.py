"""Figures of a trained GoF: test-view PSNR per LOD and residual sparsity."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..field.grids import FrameGrids
from ..render.torch_renderer import render_frame
from .gof import GoFResult
from .losses import psnr_from_mse

ZERO = 1e-3
"""|R| below this counts as zero (issue 3's zero_fraction)."""


@torch.no_grad()
def view_psnr(grids: FrameGrids, dataset, frame: int, views: Sequence[int]) -> float:
    """Mean over `views` of the PSNR of the render against the image over the clip background."""
    dev = grids.device
    bg = torch.as_tensor(dataset.background, dtype=torch.float32, device=dev)
    values = []
    for v in views:
        origins, dirs = dataset.camera(frame, v).rays(dev)
        out = render_frame(grids, origins.float(), dirs.float(), bg)
        img = torch.tensor(np.array(dataset.image(frame, v), dtype=np.float32), device=dev)
        img = img.reshape(-1, img.shape[-1])
        a = img[:, 3:4] if img.shape[1] == 4 else torch.ones_like(img[:, :1])
        gt = img[:, :3] * a + bg * (1.0 - a)
        values.append(psnr_from_mse(float(torch.mean((out.rgb - gt) ** 2))))
    return sum(values) / len(values)


def lod_psnr(result: GoFResult, index: int, dataset, views: Sequence[int]) -> list[float]:
    """Test PSNR of frame `index` at LOD 1..L."""
    frame = result.frames[index].frame_id
    return [
        view_psnr(result.grids(index, lod), dataset, frame, views)
        for lod in range(1, result.field.levels + 1)
    ]


@torch.no_grad()
def residual_stats(result: GoFResult) -> dict:
    """residual_ratio = mean|R| / mean|F| and zero_fraction = share of |R| < 1e-3, pooled over
    every level and kind of every P-frame (plus the per-kind split)."""
    sums = {"density": [0.0, 0.0, 0, 0], "planes": [0.0, 0.0, 0, 0]}  # Σ|R|, Σ|F|, zeros, count
    for fr in result.frames:
        if fr.residual_density is None:
            continue
        for kind, res, full in (
            ("density", fr.residual_density, fr.density),
            ("planes", fr.residual_planes, fr.planes),
        ):
            for r, f in zip(res, full):
                s = sums[kind]
                s[0] += float(r.abs().sum())
                s[1] += float(f.abs().sum())
                s[2] += int((r.abs() < ZERO).sum())
                s[3] += r.numel()
    total = [sum(s[i] for s in sums.values()) for i in range(4)]
    if total[3] == 0:
        return {"residual_ratio": None, "zero_fraction": None}
    out = {
        "residual_ratio": total[0] / max(total[1], 1e-12),
        "zero_fraction": total[2] / total[3],
    }
    for kind, s in sums.items():
        out[f"{kind}_residual_ratio"] = s[0] / max(s[1], 1e-12)
        out[f"{kind}_zero_fraction"] = s[2] / max(s[3], 1)
    return out
