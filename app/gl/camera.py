"""The camera the GL renderer needs, and the matching rays for the torch reference.

Any object with ``fx, fy, cx, cy, width, height`` (pixels) and ``c2w`` (4x4 camera-to-world,
OpenGL axes: the camera looks down -z, y up) works, e.g. `codec.data.cameras.Camera`.
Pixel (x, y) (y down from the top row) has its ray through (x + 0.5, y + 0.5).
Rendering at another size than the camera's scales the pixel grid, not the field of view.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass
class PinholeCamera:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    c2w: np.ndarray

    @staticmethod
    def look_at(eye, target, up, fov_y_deg: float, width: int, height: int) -> PinholeCamera:
        eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
        back = eye - target
        back /= np.linalg.norm(back)
        right = np.cross(up, back)
        right /= np.linalg.norm(right)
        true_up = np.cross(back, right)
        c2w = np.eye(4)
        c2w[:3, 0], c2w[:3, 1], c2w[:3, 2], c2w[:3, 3] = right, true_up, back, eye
        f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
        return PinholeCamera(f, f, width / 2, height / 2, width, height, c2w)


def c2w_matrix(camera: CameraLike) -> np.ndarray:
    c2w = camera.c2w
    if hasattr(c2w, "detach"):
        c2w = c2w.detach().cpu().numpy()
    return np.asarray(c2w, dtype=np.float64)


def camera_rays(
    camera: CameraLike, width: int | None = None, height: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(H*W, 3) float32 origins and unit directions, rows top to bottom, as the shader casts them."""
    w = width or int(camera.width)
    h = height or int(camera.height)
    sx, sy = camera.width / w, camera.height / h
    xs = (np.arange(w, dtype=np.float32) + 0.5) * np.float32(sx)
    ys = (np.arange(h, dtype=np.float32) + 0.5) * np.float32(sy)
    px, py = np.meshgrid(xs, ys)
    dirs_cam = np.stack(
        [(px - camera.cx) / camera.fx, -(py - camera.cy) / camera.fy, -np.ones_like(px)], axis=-1
    ).astype(np.float32)
    c2w = c2w_matrix(camera).astype(np.float32)
    dirs = dirs_cam.reshape(-1, 3) @ c2w[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    origins = np.broadcast_to(c2w[:3, 3], dirs.shape).copy()
    return origins.astype(np.float32), dirs.astype(np.float32)
