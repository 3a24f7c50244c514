"""The viewer's camera: orbit / pan / zoom around a target, or snapped to a capture camera.

Plain Python (numpy) so mouse handling is testable without a window. Angles follow
`codec.data.cameras.orbit_camera`: azimuth 0 on +z growing towards +x, elevation from the
horizontal plane, y up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class ViewCamera:
    """A pinhole camera in FieldCast's convention (OpenGL c2w, pixel centres at +0.5)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    c2w: np.ndarray


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    fwd = target - eye
    fwd = fwd / max(np.linalg.norm(fwd), 1e-12)
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-9:
        right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    cam_up = np.cross(right, fwd)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, -fwd, eye
    return m


def scaled_to(camera, width: int, height: int) -> ViewCamera:
    """``camera`` (anything with fx fy cx cy width height c2w) for another image size.

    Keeps the vertical field of view and letterboxes nothing: the horizontal extent follows the
    aspect ratio, so a viewport of the camera's own aspect shows exactly the capture view.
    """
    s = height / float(camera.height)
    cx_off = (camera.cx - camera.width / 2.0) * s
    c2w = camera.c2w.detach().cpu().numpy() if hasattr(camera.c2w, "detach") else camera.c2w
    return ViewCamera(
        float(camera.fx) * s,
        float(camera.fy) * s,
        width / 2.0 + cx_off,
        float(camera.cy) * s,
        int(width),
        int(height),
        np.asarray(c2w, dtype=np.float64),
    )


@dataclass
class OrbitController:
    """Mouse-driven orbit camera. ``snapped`` holds a capture camera shown exactly as captured."""

    target: np.ndarray
    azimuth: float = 30.0
    elevation: float = 20.0
    radius: float = 3.0
    fov_deg: float = 40.0
    orbit_deg_per_px: float = 0.4
    snapped: object | None = None

    def __post_init__(self) -> None:
        self.target = np.asarray(self.target, dtype=np.float64)
        self._home = (self.target.copy(), self.azimuth, self.elevation, self.radius, self.fov_deg)

    @staticmethod
    def for_box(lo, hi, fov_deg: float = 40.0) -> OrbitController:
        """A default view that frames the scene box."""
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        half_diag = 0.5 * float(np.linalg.norm(hi - lo))
        radius = half_diag / math.sin(math.radians(fov_deg) / 2.0) * 1.05
        return OrbitController((lo + hi) / 2.0, 30.0, 20.0, radius, fov_deg)

    def reset(self) -> None:
        target, self.azimuth, self.elevation, self.radius, self.fov_deg = self._home
        self.target = target.copy()
        self.snapped = None

    # ------------------------------------------------------------------ geometry
    def eye(self) -> np.ndarray:
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        offset = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
        return self.target + self.radius * offset

    def c2w(self) -> np.ndarray:
        return look_at(self.eye(), self.target, np.array([0.0, 1.0, 0.0]))

    def camera(self, width: int, height: int) -> ViewCamera:
        if self.snapped is not None:
            return scaled_to(self.snapped, width, height)
        f = 0.5 * height / math.tan(0.5 * math.radians(self.fov_deg))
        return ViewCamera(f, f, width / 2.0, height / 2.0, int(width), int(height), self.c2w())

    # ------------------------------------------------------------------ interaction
    def _unsnap(self) -> None:
        """Turn a snapped capture camera into orbit parameters so dragging continues from it."""
        cam = self.snapped
        if cam is None:
            return
        self.snapped = None
        c2w = cam.c2w.detach().cpu().numpy() if hasattr(cam.c2w, "detach") else np.asarray(cam.c2w)
        eye = c2w[:3, 3].astype(np.float64)
        fwd = -c2w[:3, 2] / np.linalg.norm(c2w[:3, 2])
        # Keep the orbit centre on the camera's axis, at the point closest to the old target.
        depth = max(float(np.dot(self.target - eye, fwd)), 1e-3)
        self.target = eye + depth * fwd
        offset = eye - self.target
        self.radius = float(np.linalg.norm(offset))
        self.elevation = math.degrees(math.asin(max(-1.0, min(1.0, offset[1] / self.radius))))
        self.azimuth = math.degrees(math.atan2(offset[0], offset[2]))
        self.fov_deg = math.degrees(2 * math.atan(0.5 * cam.height / cam.fy))

    def orbit(self, dx_px: float, dy_px: float) -> None:
        self._unsnap()
        self.azimuth = (self.azimuth - dx_px * self.orbit_deg_per_px) % 360.0
        self.elevation = max(-89.0, min(89.0, self.elevation + dy_px * self.orbit_deg_per_px))

    def pan(self, dx_px: float, dy_px: float, viewport_height: int) -> None:
        """Move the target so the scene follows the mouse at the target's depth."""
        self._unsnap()
        c2w = self.c2w()
        world_per_px = 2 * self.radius * math.tan(0.5 * math.radians(self.fov_deg)) / max(
            1, viewport_height
        )
        self.target = self.target - c2w[:3, 0] * dx_px * world_per_px + c2w[:3, 1] * dy_px * world_per_px

    def zoom(self, wheel_steps: float) -> None:
        """Positive steps move closer; each step changes the distance by 10%."""
        self._unsnap()
        self.radius = float(np.clip(self.radius * 0.9**wheel_steps, 1e-3, 1e4))

    def snap(self, capture_camera) -> None:
        self.snapped = capture_camera
