"""Render an operating point on the evaluation views and score it (PSNR, SSIM).

Every method goes through `measure_point`, with the torch renderer of docs/RENDERING.md, over the
dataset's background, on the same frames and views: the numbers of different methods are
comparable because nothing here depends on the method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..field.grids import FrameGrids
from ..render.torch_renderer import render_frame
from .quality import psnr, ssim


@dataclass
class ViewSet:
    """Ground truth of the evaluation views: per frame, per view, its rays and its image."""

    name: str
    """"test" or "train"."""
    frames: list[int]
    """Frame positions 0..T-1 in the clip (index into the dataset's frame list)."""
    rays: list[list[tuple[torch.Tensor, torch.Tensor]]]
    """rays[i][v] = (origins (H*W,3), dirs (H*W,3)) of view v at frames[i]."""
    images: list[list[torch.Tensor]]
    """images[i][v] = (H, W, 3) ground truth composited over `background`."""
    background: torch.Tensor

    @staticmethod
    def from_dataset(
        dataset, views: Sequence[int], frames: Sequence[int], name: str, device: torch.device
    ) -> ViewSet:
        """`dataset` is a codec.data MultiViewDataset (cameras and composited images per frame)."""
        ids = dataset.frame_ids
        rays, images = [], []
        for i in frames:
            fid = ids[i]
            rays.append([dataset.camera(fid, v).rays(device=device) for v in views])
            images.append(
                [
                    torch.from_numpy(np.ascontiguousarray(dataset.composite(fid, v))).to(device)
                    for v in views
                ]
            )
        bg = torch.as_tensor(np.asarray(dataset.background, dtype=np.float32), device=device)
        return ViewSet(name, list(frames), rays, images, bg)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.images)


@dataclass
class Score:
    psnr: float
    """Mean over frames and views of per-image PSNR (dB)."""
    ssim: float
    psnr_per_frame: list[float]


def render_view(grids: FrameGrids, rays: tuple[torch.Tensor, torch.Tensor], shape, background):
    origins, dirs = rays
    with torch.no_grad():
        out = render_frame(grids, origins, dirs, background)
    return out.rgb.reshape(*shape[:2], 3).clamp(0, 1)


def measure_point(frame_grids: Callable[[int], FrameGrids], views: ViewSet) -> Score:
    """Render every view of every frame with ``frame_grids(frame)`` and score it."""
    per_frame, all_psnr, all_ssim = [], [], []
    for i, frame in enumerate(views.frames):
        grids = frame_grids(frame)
        values = []
        for rays, gt in zip(views.rays[i], views.images[i]):
            img = render_view(grids, rays, gt.shape, views.background)
            values.append(psnr(img, gt))
            all_ssim.append(ssim(img, gt))
        all_psnr.extend(values)
        per_frame.append(float(np.mean(values)))
    return Score(float(np.mean(all_psnr)), float(np.mean(all_ssim)), per_frame)
