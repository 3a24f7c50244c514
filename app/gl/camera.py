"""What the GL renderer needs from a camera (`codec.data.cameras.Camera` fits).

``fx, fy, cx, cy, width, height`` in pixels and ``c2w`` (4x4 camera-to-world, OpenGL axes: the
camera looks down -z, y up). Pixel (col, row), rows from the top, casts its ray through
(col + 0.5, row + 0.5), as `Camera.rays()` does. Rendering at another size than the camera's
rescales the pixel grid over the same field of view (what `Camera.with_size` describes).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class CameraLike(Protocol):
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    c2w: object


def c2w_matrix(camera: CameraLike) -> np.ndarray:
    c2w = camera.c2w
    if hasattr(c2w, "detach"):
        c2w = c2w.detach().cpu().numpy()
    return np.asarray(c2w, dtype=np.float64)
