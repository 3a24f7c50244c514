"""Pinhole cameras in the transforms.json (OpenGL) convention, with OpenCV conversion.

Conventions used everywhere in FieldCast:

* ``c2w`` is camera-to-world with OpenGL camera axes: x right, y up, the camera looks down -z.
* Pixel coordinates are continuous, ``x`` = column, ``y`` = row, and the centre of pixel
  ``(row, col)`` sits at ``(col + 0.5, row + 0.5)`` (as in nerfstudio / instant-ngp / COLMAP).
  ``cx, cy`` use the same convention, so a centred principal point is ``(w / 2, h / 2)``.
* Rays are generated row-major (row outer, column inner), one per pixel centre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

# OpenCV camera axes (x right, y down, looks +z) = OpenGL axes with y and z flipped.
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


class CameraError(ValueError):
    """A camera's numbers are unusable (non-finite, singular, non-positive size...)."""


def _as_pose(matrix: np.ndarray | Sequence, what: str = "c2w") -> np.ndarray:
    """Return a read-only (4,4) float64 pose; accepts (3,4) by appending [0,0,0,1]."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    if m.shape != (4, 4):
        raise CameraError(f"{what} must be a 4x4 (or 3x4) matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise CameraError(f"{what} has non-finite entries")
    if not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-6):
        raise CameraError(f"{what} last row must be [0, 0, 0, 1], got {m[3].tolist()}")
    rot = m[:3, :3]
    # Scale-aware singularity test: compare |det| with the product of column norms.
    scale = float(np.prod(np.linalg.norm(rot, axis=0)))
    if scale == 0.0 or abs(np.linalg.det(rot)) < 1e-6 * scale:
        raise CameraError(f"{what} rotation part is singular (det = {np.linalg.det(rot):.3g})")
    m = m.copy()
    m.setflags(write=False)
    return m


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera: intrinsics in pixels plus an OpenGL camera-to-world pose."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    c2w: np.ndarray = field(repr=False)
    name: str = ""

    def __post_init__(self) -> None:
        for key in ("fx", "fy", "cx", "cy"):
            v = float(getattr(self, key))
            if not math.isfinite(v):
                raise CameraError(f"{key} is not finite ({v})")
            object.__setattr__(self, key, v)
        if self.fx <= 0 or self.fy <= 0:
            raise CameraError(f"focal lengths must be positive (fx={self.fx}, fy={self.fy})")
        w, h = int(self.width), int(self.height)
        if w <= 0 or h <= 0:
            raise CameraError(f"image size must be positive, got {w}x{h}")
        object.__setattr__(self, "width", w)
        object.__setattr__(self, "height", h)
        object.__setattr__(self, "c2w", _as_pose(self.c2w))

    # ------------------------------------------------------------------ basic geometry
    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,)."""
        return self.c2w[:3, 3].copy()

    @property
    def w2c(self) -> np.ndarray:
        """World-to-camera (OpenGL axes), (4,4)."""
        return np.linalg.inv(self.c2w)

    @property
    def forward(self) -> np.ndarray:
        """Unit viewing direction (the camera's -z axis) in world coordinates."""
        f = -self.c2w[:3, 2]
        return f / np.linalg.norm(f)

    @property
    def K(self) -> np.ndarray:
        """Intrinsic matrix (3,3) in FieldCast's pixel convention (centres at +0.5)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    # ------------------------------------------------------------------ rays
    def rays(
        self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Origins (H*W, 3) and unit directions (H*W, 3), one ray per pixel centre, row-major."""
        rows = torch.arange(self.height, dtype=torch.float64) + 0.5
        cols = torch.arange(self.width, dtype=torch.float64) + 0.5
        yy, xx = torch.meshgrid(rows, cols, indexing="ij")
        d_cam = torch.stack(
            [(xx - self.cx) / self.fx, -(yy - self.cy) / self.fy, -torch.ones_like(xx)], dim=-1
        ).reshape(-1, 3)
        c2w = torch.from_numpy(np.array(self.c2w))
        dirs = d_cam @ c2w[:3, :3].T
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        origins = c2w[:3, 3].expand_as(dirs)
        return (
            origins.to(device=device, dtype=dtype).contiguous(),
            dirs.to(device=device, dtype=dtype).contiguous(),
        )

    # ------------------------------------------------------------------ projection
    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (N,3) -> pixel coords (N,2) (x=col, y=row) and depth (N,) along the view axis.

        Depth is positive in front of the camera. Points behind it get mirrored pixel coordinates;
        check ``depth > 0`` before using them.
        """
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        pc = p @ self.w2c[:3, :3].T + self.w2c[:3, 3]
        depth = -pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = self.cx + self.fx * pc[:, 0] / depth
            y = self.cy - self.fy * pc[:, 1] / depth
        return np.stack([x, y], axis=-1), depth

    def unproject(self, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Inverse of `project`: pixel coords (N,2) and depth (N,) -> world points (N,3)."""
        px = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        d = np.asarray(depth, dtype=np.float64).reshape(-1)
        pc = np.stack(
            [(px[:, 0] - self.cx) / self.fx * d, -(px[:, 1] - self.cy) / self.fy * d, -d], axis=-1
        )
        return pc @ self.c2w[:3, :3].T + self.c2w[:3, 3]

    def in_image(self, points: np.ndarray) -> np.ndarray:
        """Boolean (N,): the point is in front of the camera and projects inside the image."""
        px, depth = self.project(points)
        return (
            (depth > 0)
            & (px[:, 0] >= 0)
            & (px[:, 0] <= self.width)
            & (px[:, 1] >= 0)
            & (px[:, 1] <= self.height)
        )

    # ------------------------------------------------------------------ resizing
    def scaled(self, factor: float) -> Camera:
        """The same camera for an image resized by `factor` (sizes rounded to whole pixels)."""
        if not factor > 0:
            raise CameraError(f"scale factor must be positive, got {factor}")
        return Camera(
            self.fx * factor,
            self.fy * factor,
            self.cx * factor,
            self.cy * factor,
            max(1, round(self.width * factor)),
            max(1, round(self.height * factor)),
            self.c2w,
            self.name,
        )

    def with_size(self, width: int, height: int) -> Camera:
        """Same field of view and pose, new resolution (each axis scaled on its own)."""
        sx, sy = width / self.width, height / self.height
        return Camera(
            self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height, self.c2w, self.name
        )

    def with_pose(self, c2w: np.ndarray) -> Camera:
        return Camera(self.fx, self.fy, self.cx, self.cy, self.width, self.height, c2w, self.name)

    def renamed(self, name: str) -> Camera:
        return Camera(self.fx, self.fy, self.cx, self.cy, self.width, self.height, self.c2w, name)

    # ------------------------------------------------------------------ conventions
    @classmethod
    def from_opencv(
        cls, K: np.ndarray, w2c: np.ndarray, width: int, height: int, name: str = ""
    ) -> Camera:
        """From an OpenCV camera (x right, y down, looks +z): K (3,3) and world-to-camera (4,4 or 3,4).

        K is taken in FieldCast's pixel convention (pixel centres at +0.5, as COLMAP); for a
        calibration whose pixel centres sit at integers add 0.5 to its cx, cy first.
        """
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3) or not np.all(np.isfinite(K)):
            raise CameraError(f"K must be a finite 3x3 matrix, got shape {K.shape}")
        w2c_cv = _as_pose(w2c, "w2c")
        c2w_gl = np.linalg.inv(w2c_cv) @ _GL_TO_CV
        return cls(K[0, 0], K[1, 1], K[0, 2], K[1, 2], width, height, c2w_gl, name)

    def to_opencv(self) -> tuple[np.ndarray, np.ndarray]:
        """(K (3,3), w2c (4,4)) in OpenCV axes; inverse of `from_opencv`."""
        w2c_cv = _GL_TO_CV @ np.linalg.inv(self.c2w)
        return self.K, w2c_cv

    def to_json_entry(self) -> dict:
        """A transforms.json frame entry (intrinsics per image; callers may hoist shared ones)."""
        return {
            "fl_x": self.fx,
            "fl_y": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "w": self.width,
            "h": self.height,
            "transform_matrix": [[float(v) for v in row] for row in self.c2w],
        }

    @classmethod
    def from_json_entry(
        cls, entry: dict, defaults: dict | None = None, name: str = ""
    ) -> Camera:
        """Build from a transforms.json frame entry; missing intrinsics come from `defaults`
        (the file's top level). Accepts ``camera_angle_x``/``camera_angle_y`` instead of focal
        lengths. Raises `CameraError` naming the field that is missing or bad."""
        defaults = defaults or {}

        def get(key: str):
            return entry[key] if key in entry else defaults.get(key)

        def number(key: str) -> float | None:
            v = get(key)
            if v is None:
                return None
            try:
                f = float(v)
            except (TypeError, ValueError):
                raise CameraError(f"field '{key}' is not a number: {v!r}") from None
            if not math.isfinite(f):
                raise CameraError(f"field '{key}' is not finite: {v!r}")
            return f

        w, h = number("w"), number("h")
        if w is None or h is None:
            raise CameraError("field 'w'/'h' (image size) is missing")
        fx, fy = number("fl_x"), number("fl_y")
        ax, ay = number("camera_angle_x"), number("camera_angle_y")
        if fx is None and ax is not None:
            fx = 0.5 * w / math.tan(0.5 * ax)
        if fy is None and ay is not None:
            fy = 0.5 * h / math.tan(0.5 * ay)
        if fx is None and fy is None:
            raise CameraError("field 'fl_x' (or 'camera_angle_x') is missing")
        fx = fy if fx is None else fx
        fy = fx if fy is None else fy
        cx, cy = number("cx"), number("cy")
        cx = w / 2.0 if cx is None else cx
        cy = h / 2.0 if cy is None else cy
        if "transform_matrix" not in entry:
            raise CameraError("field 'transform_matrix' is missing")
        try:
            pose = _as_pose(entry["transform_matrix"], "transform_matrix")
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            if not msg.startswith("transform_matrix"):
                msg = f"transform_matrix is not a 4x4 matrix of numbers ({msg})"
            raise CameraError(f"field {msg}") from None
        try:
            return cls(fx, fy, cx, cy, int(round(w)), int(round(h)), pose, name)
        except CameraError as exc:
            raise CameraError(f"intrinsics: {exc}") from None


def look_at(eye: Sequence[float], target: Sequence[float], up: Sequence[float]) -> np.ndarray:
    """OpenGL camera-to-world (4,4) at `eye` looking at `target`, with `up` as the vertical hint."""
    eye = np.asarray(eye, dtype=np.float64)
    fwd = np.asarray(target, dtype=np.float64) - eye
    n = np.linalg.norm(fwd)
    if n == 0:
        raise CameraError("look_at: eye and target coincide")
    fwd /= n
    up = np.asarray(up, dtype=np.float64)
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: any horizontal right works
        alt = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        right = np.cross(fwd, alt)
    right /= np.linalg.norm(right)
    cam_up = np.cross(right, fwd)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, cam_up, -fwd, eye
    return m


def orbit_camera(
    azimuth_deg: float,
    elevation_deg: float,
    radius: float,
    *,
    target: Sequence[float] = (0.0, 0.0, 0.0),
    fov_deg: float = 40.0,
    width: int = 256,
    height: int = 256,
    up: Sequence[float] = (0.0, 1.0, 0.0),
    name: str = "",
) -> Camera:
    """A camera on a sphere around `target`, looking at it; y is up.

    Azimuth 0 sits on +z and grows towards +x; elevation is measured from the horizontal plane.
    `fov_deg` is the vertical field of view; pixels are square (fx = fy), principal point centred.
    """
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    offset = radius * np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    up_v = np.asarray(up, dtype=np.float64)
    if not np.allclose(up_v, [0.0, 1.0, 0.0]):
        # Re-express the y-up offset in a frame whose "up" is `up`.
        up_v = up_v / np.linalg.norm(up_v)
        ref = np.array([0.0, 0.0, 1.0]) if abs(up_v[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        x_ax = np.cross(up_v, ref)
        x_ax /= np.linalg.norm(x_ax)
        z_ax = np.cross(x_ax, up_v)
        offset = offset[0] * x_ax + offset[1] * up_v + offset[2] * z_ax
    eye = np.asarray(target, dtype=np.float64) + offset
    f = 0.5 * height / math.tan(0.5 * math.radians(fov_deg))
    return Camera(f, f, width / 2.0, height / 2.0, width, height, look_at(eye, target, up_v), name)


def stack_cameras(
    cameras: Sequence[Camera], device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    """Intrinsics (V,4) = (fx, fy, cx, cy) and c2w (V,4,4) as tensors, for batched ray work."""
    intr = torch.tensor([[c.fx, c.fy, c.cx, c.cy] for c in cameras], dtype=torch.float64)
    c2w = torch.from_numpy(np.stack([c.c2w for c in cameras]))
    return intr.to(device=device, dtype=dtype), c2w.to(device=device, dtype=dtype)


def pixel_rays(
    cameras: Sequence[Camera],
    view: torch.Tensor,
    row: torch.Tensor,
    col: torch.Tensor,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through the centres of pixels (view[i], row[i], col[i]); origins and unit dirs (N,3)."""
    intr, c2w = stack_cameras(cameras, device=device, dtype=torch.float64)
    view = view.to(device)
    k = intr[view]
    x = (col.to(device=device, dtype=torch.float64) + 0.5 - k[:, 2]) / k[:, 0]
    y = -(row.to(device=device, dtype=torch.float64) + 0.5 - k[:, 3]) / k[:, 1]
    d_cam = torch.stack([x, y, -torch.ones_like(x)], dim=-1)
    m = c2w[view]
    dirs = torch.einsum("nij,nj->ni", m[:, :3, :3], d_cam)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    return m[:, :3, 3].to(dtype).contiguous(), dirs.to(dtype).contiguous()


def random_ray_batch(
    cameras: Sequence[Camera], images: torch.Tensor, n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`n` rays drawn uniformly (with replacement) over every pixel of every view.

    `images` is (V,H,W,4) RGBA matching `cameras`; returns origins (n,3), unit dirs (n,3) and the
    pixels' rgba (n,4), all on ``images.device`` (rays in ``images.dtype`` when it is floating).
    """
    if images.ndim != 4 or images.shape[0] != len(cameras):
        raise ValueError(f"images must be (V,H,W,C) with V={len(cameras)}, got {tuple(images.shape)}")
    v, h, w, _ = images.shape
    for cam in cameras:
        if (cam.width, cam.height) != (w, h):
            raise ValueError(f"camera {cam.name!r} is {cam.width}x{cam.height}, images are {w}x{h}")
    idx = torch.randint(0, v * h * w, (n,), generator=generator, device=generator.device)
    idx = idx.to(images.device)
    view, rem = idx // (h * w), idx % (h * w)
    row, col = rem // w, rem % w
    ray_dtype = images.dtype if images.dtype.is_floating_point else torch.float32
    origins, dirs = pixel_rays(cameras, view, row, col, device=images.device, dtype=ray_dtype)
    rgba = images.reshape(v * h * w, -1)[idx]
    return origins, dirs, rgba
