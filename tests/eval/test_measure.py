"""Measuring an operating point: real renders of real grids against a real written dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.data.cameras import orbit_camera
from codec.data.dataset import load_dataset, write_dataset
from codec.eval.measure import ViewSet, measure_point, render_view
from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids
from codec.field.synthetic import blob_grids

CFG = FieldConfig.nested(2, density_base=8, plane_base=8, channels=4, hidden=(16,))
AABB = torch.tensor([[-1.0] * 3, [1.0] * 3])


def _grids(seed: int, noise: float = 0.0) -> FrameGrids:
    return blob_grids(CFG, seed, noise)


def test_measure_scores_the_true_field_best(tmp_path) -> None:
    cams = [orbit_camera(90 * v, 15, 3.2, width=24, height=24, name=f"c{v}") for v in range(4)]
    truth = [_grids(seed) for seed in (1, 2)]
    bg = torch.tensor([1.0, 1.0, 1.0])
    frames = []
    for grids in truth:
        imgs = []
        for cam in cams:
            rgb = render_view(grids, cam.rays(), (24, 24), bg)
            # Store straight-alpha RGBA like a capture: A = 1 here (bg-composited render).
            imgs.append(np.concatenate([rgb.numpy(), np.ones((24, 24, 1), np.float32)], -1))
        frames.append((np.stack(imgs) * 255 + 0.5).astype(np.uint8))
    write_dataset(tmp_path / "ds", cams, frames, test_views=(1, 3), aabb=AABB.numpy())
    ds = load_dataset(tmp_path / "ds")
    views = ViewSet.from_dataset(ds, ds.test_views, [0, 1], "test", torch.device("cpu"))
    assert views.count == 4 and views.images[0][0].shape == (24, 24, 3)

    exact = measure_point(lambda t: truth[t], views)
    noisy = measure_point(lambda t: _grids((1, 2)[t], noise=0.5), views)
    assert exact.psnr > 45  # only the 8-bit PNG rounding separates them
    assert exact.ssim > 0.99
    assert noisy.psnr < exact.psnr - 5 and noisy.ssim < exact.ssim
    assert len(exact.psnr_per_frame) == 2
    assert np.mean(exact.psnr_per_frame) == pytest.approx(exact.psnr, rel=1e-12)  # summed in another order
