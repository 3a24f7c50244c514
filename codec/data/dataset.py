"""Multi-frame, multi-view datasets in FieldCast's internal format, read and written.

The format is nerfstudio / instant-ngp ``transforms.json`` extended for video:

* ``frames``: one entry per *image* with ``file_path`` and ``transform_matrix`` (camera-to-world,
  OpenGL axes), plus ``frame`` (int) and/or ``time`` (float) saying which video frame it belongs to,
  ``camera`` (the rig camera's name), optional ``split`` (``"train"``/``"test"``), optional
  ``mask_path`` (foreground alpha) and optional per-image intrinsics.
* top level: shared intrinsics ``fl_x fl_y cx cy w h`` (or ``camera_angle_x``), optional ``fps``,
  ``aabb`` ([[x,y,z],[x,y,z]] world box), ``background`` (RGB in [0,1]) and ``test_filenames``.

Images are RGBA with straight alpha, or RGB (+ mask). Loading validates everything it can without
decoding pixels (JSON, matrices, file existence, image sizes from the file headers) and raises
`DatasetError` naming the file and the field; pixels are decoded lazily, per image, on demand.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from ..errors import DatasetError
from .cameras import Camera, CameraError

TRANSFORMS = "transforms.json"
DEFAULT_FPS = 30.0
_DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff", ".webp")


def natural_key(name: str) -> list:
    """Sort key that orders 'cam2' before 'cam10'."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


# ---------------------------------------------------------------------------------- image I/O
def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file header, without decoding pixels."""
    with open(path, "rb") as fh:
        head = fh.read(33)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    from PIL import Image  # imageio's own dependency; only reached for non-PNG files

    with Image.open(path) as im:
        return im.size


def _to_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
        return a.astype(np.float32) / max(1.0, float(np.iinfo(a.dtype).max if a.dtype != bool else 1))
    return a.astype(np.float32)


def read_rgba(path: Path, mask_path: Path | None = None) -> np.ndarray:
    """Decode an image (and optional mask) to (H,W,4) float32 in [0,1], straight alpha."""
    a = _to_float(np.asarray(iio.imread(path)))
    if a.ndim == 2:
        a = a[..., None]
    c = a.shape[-1]
    if c == 1:
        rgb, alpha = np.repeat(a, 3, axis=-1), np.ones(a.shape[:2], np.float32)
    elif c == 2:
        rgb, alpha = np.repeat(a[..., :1], 3, axis=-1), a[..., 1]
    else:
        rgb = a[..., :3]
        alpha = a[..., 3] if c >= 4 else np.ones(a.shape[:2], np.float32)
    if mask_path is not None:
        m = _to_float(np.asarray(iio.imread(mask_path)))
        if m.ndim == 3:
            m = m[..., 0]
        if m.shape != alpha.shape:
            raise DatasetError(
                f"{mask_path}: mask is {m.shape[1]}x{m.shape[0]} but its image {path} is "
                f"{alpha.shape[1]}x{alpha.shape[0]}"
            )
        alpha = alpha * m
    out = np.concatenate([rgb, alpha[..., None]], axis=-1)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def downscale_rgba(img: np.ndarray, factor: int) -> np.ndarray:
    """Area-average by an integer factor, in premultiplied alpha (so edges don't fringe).
    A remainder of rows/columns that does not fill a block is cropped (right/bottom)."""
    if factor == 1:
        return img
    h, w = img.shape[0] // factor, img.shape[1] // factor
    blocks = img[: h * factor, : w * factor].reshape(h, factor, w, factor, 4)
    alpha = blocks[..., 3].mean(axis=(1, 3))
    premul = (blocks[..., :3] * blocks[..., 3:4]).mean(axis=(1, 3))
    straight = blocks[..., :3].mean(axis=(1, 3))
    safe = np.maximum(alpha, 1e-8)[..., None]
    rgb = np.where(alpha[..., None] > 1e-8, premul / safe, straight)
    return np.ascontiguousarray(
        np.concatenate([np.clip(rgb, 0, 1), alpha[..., None]], axis=-1), dtype=np.float32
    )


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float [0,1] -> uint8 by rounding; uint8 passes through."""
    if img.dtype == np.uint8:
        return img
    return np.clip(np.round(np.asarray(img, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- dataset
@dataclass
class MultiViewDataset:
    """A loaded dataset: validated metadata up front, pixels decoded lazily (small LRU cache)."""

    root: Path
    frame_ids: list[int]
    camera_names: list[str]
    train_views: list[int]
    test_views: list[int]
    aabb: np.ndarray
    background: np.ndarray
    fps: float
    times: dict[int, float]
    downscale: int = 1
    cache_size: int = 64
    _cameras: dict[tuple[int, int], Camera] = field(default_factory=dict, repr=False)
    _files: dict[tuple[int, int], tuple[Path, Path | None]] = field(default_factory=dict, repr=False)
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- shape
    @property
    def num_views(self) -> int:
        return len(self.camera_names)

    @property
    def num_frames(self) -> int:
        return len(self.frame_ids)

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of view 0 (after downscale)."""
        cam = self.camera(self.frame_ids[0], 0)
        return cam.width, cam.height

    # -- cameras
    def _key(self, frame: int, view: int) -> tuple[int, int]:
        key = (int(frame), int(view))
        if key not in self._cameras:
            if frame not in self.times:
                raise KeyError(f"frame {frame} is not in the dataset (frames {self.frame_ids})")
            raise KeyError(f"view {view} is out of range (0..{self.num_views - 1})")
        return key

    def camera(self, frame: int, view: int) -> Camera:
        """The camera of `view` at `frame` (after downscale); poses may differ per frame."""
        return self._cameras[self._key(frame, view)]

    def cameras(self, frame: int, views: Sequence[int] | None = None) -> list[Camera]:
        views = range(self.num_views) if views is None else views
        return [self.camera(frame, v) for v in views]

    def view_index(self, name: str) -> int:
        try:
            return self.camera_names.index(name)
        except ValueError:
            raise KeyError(f"no camera named {name!r} (cameras: {self.camera_names})") from None

    def image_path(self, frame: int, view: int) -> Path:
        return self._files[self._key(frame, view)][0]

    # -- pixels
    def image(self, frame: int, view: int) -> np.ndarray:
        """(H,W,4) float32 in [0,1], straight alpha (1 where the data has no alpha or mask).
        The returned array is shared with the cache: treat it as read-only."""
        key = self._key(frame, view)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        path, mask = self._files[key]
        try:
            img = downscale_rgba(read_rgba(path, mask), self.downscale)
        except DatasetError:
            raise
        except Exception as exc:  # a file changed or broke after loading
            raise DatasetError(f"{path}: cannot decode image ({exc})") from None
        img.setflags(write=False)
        with self._lock:
            self._cache[key] = img
            while len(self._cache) > max(0, self.cache_size):
                self._cache.popitem(last=False)
        return img

    def frame_tensor(
        self, frame: int, views: Sequence[int] | None = None, device: str | torch.device = "cpu"
    ) -> torch.Tensor:
        """(V,H,W,4) float32 RGBA of `views` (all views when None) at `frame`."""
        views = list(range(self.num_views)) if views is None else list(views)
        arr = np.stack([self.image(frame, v) for v in views])
        return torch.from_numpy(arr).to(device)

    def composite(self, frame: int, view: int) -> np.ndarray:
        """(H,W,3) ground truth: RGB over the dataset's background."""
        img = self.image(frame, view)
        return img[..., :3] * img[..., 3:] + self.background.astype(np.float32) * (1 - img[..., 3:])

    def summary(self) -> dict:
        """Plain-data description (what `fieldcast dataset-info --json` prints)."""
        w, h = self.resolution
        return {
            "root": str(self.root),
            "frames": self.num_frames,
            "frame_ids": self.frame_ids,
            "times": [self.times[f] for f in self.frame_ids],
            "fps": self.fps,
            "views": self.num_views,
            "resolution": [w, h],
            "downscale": self.downscale,
            "aabb": self.aabb.tolist(),
            "background": self.background.tolist(),
            "train_cameras": [self.camera_names[v] for v in self.train_views],
            "test_cameras": [self.camera_names[v] for v in self.test_views],
        }


# ---------------------------------------------------------------------------------- loading
@dataclass
class _Entry:
    index: int
    file_path: str
    path: Path
    mask: Path | None
    camera: Camera
    frame: int | None
    time: float | None
    name: str | None
    is_test: bool


def _resolve_image(root: Path, rel: str) -> Path | None:
    p = (root / rel).resolve() if not os.path.isabs(rel) else Path(rel)
    if p.is_file():
        return p
    if not p.suffix:  # NeRF-synthetic style paths omit the extension
        for suf in _IMAGE_SUFFIXES:
            q = p.with_name(p.name + suf)
            if q.is_file():
                return q
    return None


def _norm_rel(rel: str) -> str:
    s = posixpath.normpath(rel.replace("\\", "/"))
    return posixpath.splitext(s)[0]


def _number(where: str, key: str, value, *, positive: bool = False) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: field '{key}' is not a number: {value!r}") from None
    if not math.isfinite(f) or (positive and f <= 0):
        raise DatasetError(f"{where}: field '{key}' must be a finite{' positive' if positive else ''} number, got {value!r}")
    return f


def _read_json(file: Path) -> dict:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{file}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{file}: malformed JSON (not UTF-8 text)") from None
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{file}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{file}: malformed JSON: top level must be an object, got {type(meta).__name__}")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise DatasetError(f"{file}: field 'frames' must be a non-empty list of image entries")
    return meta


def _parse_entry(file: Path, root: Path, i: int, entry, defaults: dict, test_set: set[str]) -> _Entry:
    where = f"{file}: frames[{i}]"
    if not isinstance(entry, dict):
        raise DatasetError(f"{where}: must be an object, got {type(entry).__name__}")
    rel = entry.get("file_path")
    if not isinstance(rel, str) or not rel:
        raise DatasetError(f"{where}: field 'file_path' is missing or not a string")
    where = f"{file}: frames[{i}] ({rel})"
    path = _resolve_image(root, rel)
    if path is None:
        raise DatasetError(f"{where}: field 'file_path': image not found: {root / rel}")
    mask = None
    if entry.get("mask_path") is not None:
        mrel = entry["mask_path"]
        if not isinstance(mrel, str):
            raise DatasetError(f"{where}: field 'mask_path' is not a string")
        mask = _resolve_image(root, mrel)
        if mask is None:
            raise DatasetError(f"{where}: field 'mask_path': mask not found: {root / mrel}")
    for key in _DISTORTION_KEYS:
        v = entry.get(key, defaults.get(key))
        if v is not None and _number(where, key, v) != 0.0:
            raise DatasetError(f"{where}: field '{key}': lens distortion is not supported; undistort the images first")
    try:
        size = image_size(path)
    except Exception as exc:  # noqa: BLE001 - any header failure means the file is unusable
        raise DatasetError(f"{path}: not a readable image ({exc})") from None
    if mask is not None:
        try:
            msize = image_size(mask)
        except Exception as exc:  # noqa: BLE001
            raise DatasetError(f"{mask}: not a readable image ({exc})") from None
        if msize != size:
            raise DatasetError(f"{where}: field 'mask_path': mask is {msize[0]}x{msize[1]}, image is {size[0]}x{size[1]}")
    # Fill the image size from the file when neither the entry nor the top level gives it.
    merged = dict(defaults)
    merged.setdefault("w", size[0])
    merged.setdefault("h", size[1])
    try:
        cam = Camera.from_json_entry(entry, merged)
    except CameraError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    if (cam.width, cam.height) != size:
        raise DatasetError(
            f"{where}: field 'w'/'h' says {cam.width}x{cam.height} but the image is {size[0]}x{size[1]}"
        )
    frame = entry.get("frame")
    if frame is not None:
        if isinstance(frame, bool) or not isinstance(frame, (int, float)) or float(frame) != int(frame) or frame < 0:
            raise DatasetError(f"{where}: field 'frame' must be a non-negative integer, got {frame!r}")
        frame = int(frame)
    time = entry.get("time")
    if time is not None:
        time = _number(where, "time", time)
    name = entry.get("camera")
    if name is not None and (not isinstance(name, str) or not name):
        raise DatasetError(f"{where}: field 'camera' must be a non-empty string, got {name!r}")
    split = entry.get("split")
    if split is not None and split not in ("train", "test", "val"):
        raise DatasetError(f"{where}: field 'split' must be 'train', 'test' or 'val', got {split!r}")
    is_test = split == "test" or _norm_rel(rel) in test_set
    return _Entry(i, rel, path, mask, cam, frame, time, name, is_test)


def _assign_frames(file: Path, entries: list[_Entry]) -> None:
    has_frame = [e.frame is not None for e in entries]
    has_time = [e.time is not None for e in entries]
    if any(has_frame) and not all(has_frame):
        e = entries[has_frame.index(False)]
        raise DatasetError(f"{file}: frames[{e.index}] ({e.file_path}): field 'frame' is missing (other images have it)")
    if all(has_frame):
        return
    if any(has_time) and not all(has_time):
        e = entries[has_time.index(False)]
        raise DatasetError(f"{file}: frames[{e.index}] ({e.file_path}): field 'time' is missing (other images have it)")
    if all(has_time):
        order = {t: k for k, t in enumerate(sorted({e.time for e in entries}))}
        for e in entries:
            e.frame = order[e.time]
    else:  # a static scene: one frame
        for e in entries:
            e.frame = 0


def _unique_per_frame(names: list[str], entries: list[_Entry]) -> bool:
    return len({(n, e.frame) for n, e in zip(names, entries)}) == len(entries)


def _assign_cameras(file: Path, entries: list[_Entry]) -> None:
    has = [e.name is not None for e in entries]
    if any(has) and not all(has):
        e = entries[has.index(False)]
        raise DatasetError(f"{file}: frames[{e.index}] ({e.file_path}): field 'camera' is missing (other images have it)")
    if all(has):
        return
    parents = [posixpath.basename(posixpath.dirname(_norm_rel(e.file_path))) for e in entries]
    if len(set(parents)) > 1 and _unique_per_frame(parents, entries):
        for e, n in zip(entries, parents):
            e.name = n
        return
    # Pose identity: images taken with the same intrinsics and pose are the same camera.
    ids: dict[tuple, str] = {}
    names = []
    for e in entries:
        c = e.camera
        key = tuple(np.round(np.concatenate([c.c2w.ravel(), [c.fx, c.fy, c.cx, c.cy]]), 6))
        key = key + (c.width, c.height)
        names.append(ids.setdefault(key, f"view{len(ids):03d}"))
    if not _unique_per_frame(names, entries):
        raise DatasetError(f"{file}: field 'camera': cannot tell which camera took each image; give every entry a 'camera' name")
    for e, n in zip(entries, names):
        e.name = n


def _parse_box(file: Path, value) -> np.ndarray:
    try:
        box = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{file}: field 'aabb' must be [[xmin,ymin,zmin],[xmax,ymax,zmax]]") from None
    if box.shape != (2, 3) or not np.all(np.isfinite(box)) or not np.all(box[1] > box[0]):
        raise DatasetError(f"{file}: field 'aabb' must be [[xmin,ymin,zmin],[xmax,ymax,zmax]] with min < max, got {value!r}")
    return box


def _parse_background(file: Path, value) -> np.ndarray:
    try:
        bg = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise DatasetError(f"{file}: field 'background' must be 3 numbers in [0, 1]") from None
    if bg.size == 1:
        bg = np.repeat(bg, 3)
    if bg.shape != (3,) or not np.all(np.isfinite(bg)) or bg.min() < 0 or bg.max() > 1:
        raise DatasetError(f"{file}: field 'background' must be 3 numbers in [0, 1], got {value!r}")
    return bg


def load_dataset(
    path: str | os.PathLike,
    *,
    downscale: int = 1,
    test_views: Sequence[str] | None = None,
    test_every: int | None = None,
    cache_size: int = 64,
) -> MultiViewDataset:
    """Load and fully validate a dataset (a directory holding transforms.json, or the file).

    The split comes from `test_views` (camera names) if given, else `test_every` (every k-th
    camera, starting with the first, is a test camera), else from the file (``test_filenames`` or
    per-image ``split``); a camera is a test camera when any of its images is marked test.
    """
    p = Path(path)
    file = p / TRANSFORMS if p.is_dir() else p
    if not file.is_file():
        raise DatasetError(f"{file}: no such dataset file (expected a directory holding {TRANSFORMS})")
    root = file.parent.resolve()
    if isinstance(downscale, bool) or not isinstance(downscale, int) or downscale < 1:
        raise DatasetError(f"downscale must be a positive integer, got {downscale!r}")
    meta = _read_json(file)

    defaults = {k: v for k, v in meta.items() if k != "frames"}
    raw_tests = meta.get("test_filenames", [])
    if not isinstance(raw_tests, list) or not all(isinstance(t, str) for t in raw_tests):
        raise DatasetError(f"{file}: field 'test_filenames' must be a list of file paths")
    test_set = {_norm_rel(t) for t in raw_tests}
    entries = [_parse_entry(file, root, i, e, defaults, test_set) for i, e in enumerate(meta["frames"])]

    _assign_frames(file, entries)
    _assign_cameras(file, entries)
    frame_ids = sorted({e.frame for e in entries})
    names = sorted({e.name for e in entries}, key=natural_key)
    view_of = {n: v for v, n in enumerate(names)}

    grid: dict[tuple[int, int], _Entry] = {}
    for e in entries:
        key = (e.frame, view_of[e.name])
        if key in grid:
            raise DatasetError(
                f"{file}: frames[{e.index}] ({e.file_path}): field 'camera': frame {e.frame} already has an image "
                f"from camera '{e.name}' ({grid[key].file_path})"
            )
        grid[key] = e
    for f in frame_ids:
        for v, n in enumerate(names):
            if (f, v) not in grid:
                raise DatasetError(f"{file}: field 'frames': frame {f} is missing camera '{n}'")
    for v, n in enumerate(names):
        first = grid[(frame_ids[0], v)]
        for f in frame_ids[1:]:
            e = grid[(f, v)]
            if (e.camera.width, e.camera.height) != (first.camera.width, first.camera.height):
                raise DatasetError(
                    f"{file}: frames[{e.index}] ({e.file_path}): camera '{n}' has images of mixed sizes: "
                    f"{e.camera.width}x{e.camera.height} here, {first.camera.width}x{first.camera.height} in {first.file_path}"
                )
    for v, n in enumerate(names):
        cam = grid[(frame_ids[0], v)].camera
        if cam.width < downscale or cam.height < downscale:
            raise DatasetError(f"{file}: camera '{n}' ({cam.width}x{cam.height}) is smaller than downscale {downscale}")

    # Time and rate.
    times: dict[int, float] = {}
    fps = None
    if meta.get("fps") is not None:
        fps = _number(str(file), "fps", meta["fps"], positive=True)
    for f in frame_ids:
        ts = {e.time for (ff, _), e in grid.items() if ff == f and e.time is not None}
        if len(ts) > 1:
            raise DatasetError(f"{file}: field 'time': frame {f} has images with different times {sorted(ts)}")
        if ts:
            times[f] = ts.pop()
    if fps is None:
        timed = [f for f in frame_ids if f in times]
        steps = [
            (times[b] - times[a]) / (b - a) for a, b in zip(timed, timed[1:]) if times[b] > times[a]
        ]
        fps = 1.0 / float(np.median(steps)) if steps else DEFAULT_FPS
    for f in frame_ids:
        times.setdefault(f, f / fps)

    # Split.
    if test_views is not None:
        unknown = [n for n in test_views if n not in view_of]
        if unknown:
            raise DatasetError(f"test views {unknown} are not cameras of {file} (cameras: {names})")
        test = sorted(view_of[n] for n in set(test_views))
    elif test_every is not None:
        if test_every < 1:
            raise DatasetError(f"test_every must be a positive integer, got {test_every}")
        test = [v for v in range(len(names)) if v % test_every == 0]
    else:
        test = sorted({view_of[e.name] for e in entries if e.is_test})
    train = [v for v in range(len(names)) if v not in test]
    if not train:
        raise DatasetError(f"{file}: every camera is a test camera; nothing left to train on")

    cameras = {}
    for (f, v), e in grid.items():
        cam = e.camera.renamed(names[v])
        if downscale > 1:
            cam = Camera(
                cam.fx / downscale, cam.fy / downscale, cam.cx / downscale, cam.cy / downscale,
                cam.width // downscale, cam.height // downscale, cam.c2w, cam.name,
            )
        cameras[(f, v)] = cam
    aabb = (
        _parse_box(file, meta["aabb"])
        if meta.get("aabb") is not None
        else estimate_aabb([cameras[(frame_ids[0], v)] for v in range(len(names))])
    )
    background = (
        _parse_background(file, meta["background"])
        if meta.get("background") is not None
        else np.ones(3)
    )
    return MultiViewDataset(
        root=root,
        frame_ids=frame_ids,
        camera_names=names,
        train_views=train,
        test_views=test,
        aabb=aabb,
        background=background,
        fps=float(fps),
        times=times,
        downscale=downscale,
        cache_size=cache_size,
        _cameras=cameras,
        _files={k: (e.path, e.mask) for k, e in grid.items()},
    )


def estimate_aabb(cameras: Sequence[Camera], resolution: int = 48) -> np.ndarray:
    """A world box around the region every camera sees (for inward-facing rigs).

    Finds the point nearest to all optical axes, samples a cube around it whose half-size is the
    nearest camera's distance, keeps samples inside every camera's image, and returns their
    bounding box (padded by one sample spacing). Falls back to a cube of half that size.
    """
    if not cameras:
        raise ValueError("estimate_aabb needs at least one camera")
    origins = np.stack([c.position for c in cameras])
    dirs = np.stack([c.forward for c in cameras])
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for o, d in zip(origins, dirs):
        proj = np.eye(3) - np.outer(d, d)
        a += proj
        b += proj @ o
    if np.linalg.cond(a) < 1e8:
        centre = np.linalg.solve(a, b)
    else:  # parallel axes (forward-facing rig): a point one unit in front of the mean camera
        centre = origins.mean(0) + dirs.mean(0)
    half = float(np.min(np.linalg.norm(origins - centre, axis=1)))
    half = half if half > 1e-9 else 1.0
    lin = np.linspace(-half, half, resolution)
    pts = np.stack(np.meshgrid(lin, lin, lin, indexing="ij"), -1).reshape(-1, 3) + centre
    keep = np.ones(len(pts), dtype=bool)
    for cam in cameras:
        keep &= cam.in_image(pts)
    if not keep.any():
        return np.stack([centre - half / 2, centre + half / 2])
    pad = lin[1] - lin[0]
    return np.stack([pts[keep].min(0) - pad, pts[keep].max(0) + pad])


# ---------------------------------------------------------------------------------- writing
class DatasetWriter:
    """Writes a dataset frame by frame: ``images/<camera>/<frame:04d>.png`` (RGBA, straight alpha)
    and, on `close`, ``transforms.json`` (written atomically, so a crash leaves no half index)."""

    def __init__(
        self,
        root: str | os.PathLike,
        cameras: Sequence[Camera],
        *,
        test_views: Iterable[int] = (),
        fps: float = DEFAULT_FPS,
        aabb: np.ndarray | None = None,
        background: Sequence[float] = (1.0, 1.0, 1.0),
        extra: dict | None = None,
    ) -> None:
        self.root = Path(root)
        self.cameras = list(cameras)
        names = [c.name or f"cam{i:02d}" for i, c in enumerate(self.cameras)]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        self.names = names
        self.test_views = sorted(set(test_views))
        self.fps = float(fps)
        self.aabb = None if aabb is None else np.asarray(aabb, dtype=np.float64)
        self.background = [float(v) for v in background]
        self.extra = dict(extra or {})
        self._entries: list[dict] = []
        self.root.mkdir(parents=True, exist_ok=True)

    def add_frame(
        self,
        frame: int,
        images: np.ndarray | Sequence[np.ndarray],
        *,
        time: float | None = None,
        cameras: Sequence[Camera] | None = None,
    ) -> None:
        """Write one frame: `images` (V,H,W,4) uint8 or float in [0,1], one per camera."""
        cams = self.cameras if cameras is None else list(cameras)
        if len(images) != len(cams):
            raise ValueError(f"frame {frame}: {len(images)} images for {len(cams)} cameras")
        t = frame / self.fps if time is None else float(time)
        for v, (img, cam) in enumerate(zip(images, cams)):
            img = to_uint8(np.asarray(img))
            if img.shape != (cam.height, cam.width, 4):
                raise ValueError(f"frame {frame} view {v}: image {img.shape} != ({cam.height},{cam.width},4)")
            rel = f"images/{self.names[v]}/{frame:04d}.png"
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            iio.imwrite(self.root / rel, img)
            entry = {
                "file_path": rel,
                "time": t,
                "frame": int(frame),
                "camera": self.names[v],
                "split": "test" if v in self.test_views else "train",
            }
            entry.update(cam.to_json_entry())
            self._entries.append(entry)

    def close(self) -> Path:
        """Write transforms.json; returns its path."""
        meta: dict = {}
        shared = ("fl_x", "fl_y", "cx", "cy", "w", "h")
        firsts = {k: self._entries[0][k] for k in shared} if self._entries else {}
        if self._entries and all(all(e[k] == firsts[k] for k in shared) for e in self._entries):
            meta.update(firsts)
            for e in self._entries:
                for k in shared:
                    del e[k]
        meta["fps"] = self.fps
        if self.aabb is not None:
            meta["aabb"] = self.aabb.tolist()
        meta["background"] = self.background
        meta.update(self.extra)
        meta["test_filenames"] = [e["file_path"] for e in self._entries if e["split"] == "test"]
        meta["frames"] = self._entries
        out = self.root / TRANSFORMS
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, out)
        return out


def write_dataset(
    root: str | os.PathLike,
    cameras: Sequence[Camera],
    frames: Iterable[np.ndarray],
    *,
    test_views: Iterable[int] = (),
    fps: float = DEFAULT_FPS,
    aabb: np.ndarray | None = None,
    background: Sequence[float] = (1.0, 1.0, 1.0),
    extra: dict | None = None,
) -> Path:
    """Write a static-rig dataset: `frames` yields (V,H,W,4) images per frame (frame ids 0, 1, ...)."""
    writer = DatasetWriter(
        root, cameras, test_views=test_views, fps=fps, aabb=aabb, background=background, extra=extra
    )
    for f, imgs in enumerate(frames):
        writer.add_frame(f, imgs)
    return writer.close()
