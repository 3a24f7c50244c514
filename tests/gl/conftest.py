"""GL renderer fixtures: one headless renderer per module, torch reference renders, PSNR."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.gl.headless import HeadlessRenderer
from codec.field.grids import FrameGrids
from codec.render.torch_renderer import render_frame


@pytest.fixture(scope="module")
def headless() -> HeadlessRenderer:
    renderer = HeadlessRenderer()
    yield renderer
    renderer.release()


def torch_reference(grids: FrameGrids, camera, background) -> np.ndarray:
    """(H, W, 4) from the torch renderer (no grad, occupancy on) for the same pixels."""
    origins, dirs = camera.rays()
    out = render_frame(grids, origins, dirs, torch.as_tensor(background, dtype=torch.float32))
    rgba = torch.cat((out.rgb, out.alpha[:, None]), dim=1)
    return rgba.reshape(camera.height, camera.width, 4).numpy()


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((a[mask].astype(np.float64) - b[mask]) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
