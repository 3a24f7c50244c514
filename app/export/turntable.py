"""Turntable export: the camera orbits the scene while the clip plays, written to mp4 or GIF.

Rendering uses the GLSL renderer on a headless EGL context, so run this in a process that has no
Qt GL context (the CLI does; the player's dialog starts `fieldcast export` as a child process).
The camera path and the clip frame of every output frame are pure functions (`turntable_camera`,
`clip_frame_at`) so tests and other tools can reproduce any frame.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.errors import FieldCastError

CODECS = {"h264": "libx264", "h265": "libx265", "gif": None}


class ExportCancelled(FieldCastError):
    """The user cancelled; no output file was left behind."""


@dataclass(frozen=True)
class TurntableSpec:
    """What to export. Defaults give a 6 s, 25 fps, 512² H.264 turntable at the best point."""

    output: Path
    seconds: float = 6.0
    """Length of the video; the clip loops if it is shorter."""
    fps: float = 25.0
    """Frame rate of the video; the clip plays at its own rate (frames are repeated or skipped)."""
    width: int = 512
    height: int = 512
    elevation: float = 20.0
    """Camera height above the horizontal plane through the box centre, in degrees."""
    radius: float | None = None
    """Camera distance from the box centre; None frames the whole box."""
    turns: float = 1.0
    fov_deg: float = 40.0
    track: int | None = None
    """Rate track (as in `fieldcast info`); None = the highest."""
    level: int | None = None
    """Level of detail 1..L; None = all levels."""
    codec: str = "h264"
    """h264 or h265 (mp4), or gif."""
    compare: tuple[int, int] | None = None
    """A second (track, level) rendered beside the first, both labelled."""
    crf: int = 18

    def frame_count(self) -> int:
        return max(1, int(round(self.seconds * self.fps)))


def check_output(path: Path, codec: str) -> None:
    """Fail before any rendering if the output cannot be written."""
    if codec not in CODECS:
        raise FieldCastError(f"codec must be one of {sorted(CODECS)}, got {codec!r}")
    if path.is_dir():
        raise FieldCastError(f"cannot write {path}: it is a directory")
    suffix = path.suffix.lower()
    if codec == "gif" and suffix != ".gif":
        raise FieldCastError(f"GIF output needs a .gif file name, got {path.name}")
    if codec != "gif" and suffix not in (".mp4", ".mov", ".mkv"):
        raise FieldCastError(f"{codec} output needs an .mp4 (or .mov/.mkv) file name, got {path.name}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FieldCastError(f"cannot write {path}: folder {parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".fieldcast-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FieldCastError(f"cannot write {path}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise FieldCastError(f"cannot write {path}: the existing file is read-only")


def default_radius(aabb, fov_deg: float) -> float:
    lo, hi = np.asarray(aabb[0], np.float64), np.asarray(aabb[1], np.float64)
    half_diag = 0.5 * float(np.linalg.norm(hi - lo))
    return half_diag / math.sin(math.radians(fov_deg) / 2.0) * 1.05


def turntable_camera(spec: TurntableSpec, aabb, index: int, width: int | None = None):
    """Camera of output frame ``index``: azimuth sweeps ``turns`` full circles over the video."""
    from codec.data.cameras import orbit_camera

    lo, hi = np.asarray(aabb[0], np.float64), np.asarray(aabb[1], np.float64)
    radius = spec.radius if spec.radius is not None else default_radius(aabb, spec.fov_deg)
    azimuth = 360.0 * spec.turns * index / spec.frame_count()
    return orbit_camera(
        azimuth, spec.elevation, radius, target=tuple((lo + hi) / 2.0), fov_deg=spec.fov_deg,
        width=width or spec.width, height=spec.height,
    )


def clip_frame_at(spec: TurntableSpec, clip_frames: int, clip_fps: float, index: int) -> int:
    """The clip frame shown at output frame ``index`` (the clip plays in real time, looping)."""
    return int(math.floor(index * clip_fps / spec.fps + 1e-9)) % clip_frames


def _label(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    box = draw.textbbox((6, 4), text)
    draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(0, 0, 0))
    draw.text((6, 4), text, fill=(255, 255, 255))
    return np.asarray(pil)


def point_label(track: int, level: int, points) -> str:
    for p in points:
        if p.key == (track, level):
            return p.label()
    return f"track {track} · level {level}"


class _Writer:
    """mp4 through the ffmpeg bundled with imageio-ffmpeg, or GIF through imageio."""

    def __init__(self, path: Path, spec: TurntableSpec, size: tuple[int, int]) -> None:
        self.spec = spec
        self.path = path
        if spec.codec == "gif":
            import imageio.v2 as iio

            self._gif = iio.get_writer(path, format="GIF", mode="I", duration=1000.0 / spec.fps, loop=0)
            self._gen = None
        else:
            import imageio_ffmpeg

            w, h = size
            if w % 2 or h % 2:
                raise FieldCastError(f"mp4 needs an even width and height, got {w}x{h}")
            params = ["-crf", str(spec.crf)]
            if spec.codec == "h265":
                params += ["-tag:v", "hvc1"]
            self._gif = None
            self._gen = imageio_ffmpeg.write_frames(
                str(path), size, fps=spec.fps, codec=CODECS[spec.codec], pix_fmt_in="rgb24",
                pix_fmt_out="yuv420p", macro_block_size=1, output_params=params, ffmpeg_log_level="error",
            )
            self._gen.send(None)

    def write(self, rgb: np.ndarray) -> None:
        if self._gen is not None:
            self._gen.send(np.ascontiguousarray(rgb))
        else:
            self._gif.append_data(rgb)

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
        else:
            self._gif.close()


Progress = Callable[[int, int], bool | None]
"""Called after every frame with (done, total); returning False cancels."""


def export_turntable(
    clip: Path, spec: TurntableSpec, progress: Progress | None = None, *, device=None
) -> Path:
    """Render and write the turntable; returns the output path. Raises ExportCancelled."""
    from app.gl.headless import HeadlessRenderer
    from app.player.fcv_source import FcvSource

    check_output(spec.output, spec.codec)
    source = FcvSource(clip, device)
    info = source.info
    keys = {p.key for p in info.points}
    track = spec.track if spec.track is not None else max(k[0] for k in keys)
    level = spec.level if spec.level is not None else info.levels
    points = [(track, level)] + ([tuple(spec.compare)] if spec.compare else [])
    for t, lv in points:
        if (t, lv) not in keys:
            raise FieldCastError(f"the clip has no operating point track {t}, level {lv}")
    total = spec.frame_count()
    panel_w = spec.width
    size = (panel_w * len(points), spec.height)
    tmp = spec.output.with_name(f".{spec.output.name}.partial{spec.output.suffix}")
    renderer = HeadlessRenderer()
    writer = _Writer(tmp, spec, size)
    finished = False
    try:
        for i in range(total):
            frame = clip_frame_at(spec, info.frames, info.fps, i)
            cam = turntable_camera(spec, info.aabb, i, panel_w)
            panels = []
            for t, lv in points:
                grids = source.decode(frame, t, lv)
                rgba = renderer.render(grids, cam, info.background, key=(frame, t, grids.lod))
                rgb = (np.clip(rgba[..., :3], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
                if spec.compare:
                    rgb = _label(rgb, point_label(t, lv, info.points))
                panels.append(rgb)
            writer.write(np.concatenate(panels, axis=1))
            if progress is not None and progress(i + 1, total) is False:
                raise ExportCancelled("export cancelled")
        writer.close()
        finished = True
        os.replace(tmp, spec.output)
    finally:
        if not finished:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - already failing; the partial file goes anyway
                pass
            tmp.unlink(missing_ok=True)
        renderer.release()
        source.close()
    return spec.output
