"""One frame's training rays and targets, flattened over the training views."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class FrameRays:
    """All training pixels of one frame: rays, straight-alpha RGBA targets, and camera list."""

    origins: torch.Tensor
    """(N, 3) world ray origins."""
    dirs: torch.Tensor
    """(N, 3) unit world directions."""
    rgba: torch.Tensor
    """(N, 4) straight alpha, float32 in [0, 1]."""
    cameras: list
    """The training cameras, in view order (for the visual hull)."""
    image_shape: tuple[int, int, int]
    """(V, H, W) of the flattened images."""
    has_alpha: bool = True

    @property
    def count(self) -> int:
        return int(self.origins.shape[0])

    def alphas(self) -> torch.Tensor:
        v, h, w = self.image_shape
        return self.rgba[:, 3].view(v, h, w)


def frame_rays(dataset, frame: int, views: Sequence[int], device: torch.device) -> FrameRays:
    """Build a frame's rays from a MultiViewDataset (camera(frame, view).rays, frame_tensor)."""
    cameras = [dataset.camera(frame, v) for v in views]
    origins, dirs = [], []
    for cam in cameras:
        o, d = cam.rays(device)
        origins.append(o.float())
        dirs.append(d.float())
    images = dataset.frame_tensor(frame, list(views), device).float()
    v, h, w, c = images.shape
    rgba = images.reshape(-1, c)
    has_alpha = c == 4
    if not has_alpha:
        rgba = torch.cat((rgba, torch.ones_like(rgba[:, :1])), dim=1)
    return FrameRays(
        torch.cat(origins), torch.cat(dirs), rgba.contiguous(), cameras, (v, h, w), has_alpha
    )


def changed_pixels(
    current: FrameRays, previous: FrameRays, threshold: float, dilate: int = 2
) -> torch.Tensor:
    """Indices of pixels whose RGBA moved by more than `threshold` (dilated), for ray focus."""
    v, h, w = current.image_shape
    diff = (current.rgba - previous.rgba).abs().amax(dim=1).view(v, 1, h, w)
    mask = (diff > threshold).float()
    if dilate > 0:
        mask = F.max_pool2d(mask, 2 * dilate + 1, stride=1, padding=dilate)
    return mask.view(-1).nonzero(as_tuple=True)[0]


def targets_over(rgba: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Straight-alpha RGBA composited over a background (3,) or (R, 3)."""
    a = rgba[:, 3:4]
    return rgba[:, :3] * a + background * (1.0 - a)
