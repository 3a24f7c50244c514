"""The post-training H.265 baseline (TeTriRF-style): float grids → 12-bit images → libx265.

A field trained without any rate term (``--no-joint-rate``) is coded the way TeTriRF codes its
tri-planes: every grid of every frame is quantized to ``bits`` (12, the most the bundled libx265
takes) over one min/max range per grid *for the whole sequence* (a range that changed per frame
would move the codes of unchanged values and defeat inter prediction), tiled into one 2-D image
per frame, and the image sequence is coded as an H.265 video at a fixed CRF. One video per
(grid kind, level): ``density/l<k>`` (z-slices tiled) and ``planes/l<k>`` (the 3·C channel images
tiled). The bundled ffmpeg of imageio-ffmpeg runs as a subprocess with raw ``gray12le`` pipes.

Bytes are counted exactly, the same way the .fcv container counts an operating point:
Σ raw HEVC bitstream bytes (Annex-B, no container) + side info + the GoFs' MLP weights as float32.
Side info = per grid its (min, max) as two float32 (8 B) + per stream its length as a uint32
(4 B). bytes/frame = total / frame count. Grid shapes, frame count and CRF are part of the
sequence header both methods need, and are not counted for either.
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FieldCastError

LOSSLESS = -1
"""A 'CRF' that stands for x265's mathematically lossless mode (``lossless=1``): the point
whose only error is the 12-bit quantization, so the baseline's best point is the best the
representation allows at 12 bits."""

DEFAULT_CRFS: tuple[int, ...] = (LOSSLESS, 0, 4, 8, 12, 16, 20, 24, 28, 32)
"""libx265 CRF values of the baseline's RD curve, best quality first. CRF 0 on 12-bit input
leaves a few codes of 4096 of error, lossless none; 32 is far below any useful quality for
these fields (docs/EVALUATION.md)."""


def crf_label(crf: float) -> str:
    return "lossless" if crf == LOSSLESS else f"crf{crf:g}"


RANGE_BYTES = 8
"""Side info per grid: its float32 (min, max)."""
LENGTH_BYTES = 4
"""Side info per stream: its byte length as uint32 (to find the streams in one file)."""


class BaselineError(FieldCastError):
    """ffmpeg/libx265 failed or returned something other than what was sent."""


@dataclass(frozen=True)
class H265Config:
    """How the baseline codes grids. Defaults are the documented evaluation settings."""

    crfs: tuple[int, ...] = DEFAULT_CRFS
    """CRF values, one RD point each (lower = better quality, more bytes)."""
    preset: str = "medium"
    """x265 speed preset (medium is libx265's default)."""
    bits: int = 12
    """Bits per sample; 12 is the most the bundled libx265 accepts (gray12le)."""
    align: int = 64
    """Mosaic width and height are padded up to a multiple of this: x265's CTU size. Smaller
    alignments are not safe: the bundled ffmpeg/libx265 aborts with heap corruption on some
    narrow gray12 frames (widths 40 and 48 at any height, measured); multiples of 64 never did."""
    fps: int = 10
    """Nominal frame rate written into the stream (rate control depends on it only mildly)."""

    @property
    def max_code(self) -> int:
        return (1 << self.bits) - 1


@dataclass
class GridSequence:
    """Float grids of a frame sequence: ``density[t][l]`` (n,n,n), ``planes[t][l]`` (3,C,m,m)."""

    density: list[list[np.ndarray]]
    planes: list[list[np.ndarray]]
    mlp_bytes: int = 0
    """Bytes of every GoF's MLP weights as float32 (counted once per clip, like the container)."""

    def __post_init__(self) -> None:
        if not self.density or len(self.density) != len(self.planes):
            raise ValueError(
                "GridSequence needs the same (>= 1) number of density and plane frames"
            )
        levels = len(self.density[0])
        for t, (d, p) in enumerate(zip(self.density, self.planes)):
            if len(d) != levels or len(p) != levels:
                raise ValueError(f"frame {t} has a different number of levels")
            for lv in range(levels):
                if (
                    d[lv].shape != self.density[0][lv].shape
                    or p[lv].shape != self.planes[0][lv].shape
                ):
                    raise ValueError(f"frame {t} level {lv + 1}: grid shape differs from frame 0")

    @property
    def frames(self) -> int:
        return len(self.density)

    @property
    def levels(self) -> int:
        return len(self.density[0])

    def stack(self, kind: str, level: int) -> np.ndarray:
        """All frames of one grid as (T, N, h, w) float32 tiles: z-slices or plane channels."""
        src = self.density if kind == "density" else self.planes
        arr = np.stack([np.asarray(f[level], dtype=np.float32) for f in src])
        if kind == "density":
            return arr  # (T, n, n, n): slice k is the (y, x) image at z = k
        t, three, c, m, _ = arr.shape
        return arr.reshape(t, three * c, m, m)


def stream_names(levels: int) -> list[tuple[str, str, int]]:
    """(name, kind, level index) of every video, level-major like the container's chunks."""
    return [
        (f"{kind}/l{lv + 1}", kind, lv) for lv in range(levels) for kind in ("density", "planes")
    ]


# --- quantization and tiling -------------------------------------------------------------------


def quantize(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    """Uniform quantization of [lo, hi] onto 0 .. 2^bits − 1 (round to nearest), as uint16."""
    top = (1 << bits) - 1
    scale = top / (hi - lo) if hi > lo else 0.0
    return np.clip(np.rint((x - lo) * scale), 0, top).astype(np.uint16)


def dequantize(q: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    top = (1 << bits) - 1
    step = (hi - lo) / top if hi > lo else 0.0
    return (lo + q.astype(np.float32) * np.float32(step)).astype(np.float32)


def mosaic_layout(count: int, h: int, w: int, align: int) -> tuple[int, int, int, int]:
    """(rows, cols, height, width) of a near-square mosaic of `count` tiles, padded to `align`."""
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    height = -(-rows * h // align) * align
    width = -(-cols * w // align) * align
    return rows, cols, height, width


def tile(tiles: np.ndarray, align: int) -> np.ndarray:
    """(N, h, w) → one padded (H, W) image, tiles row-major; padding is code 0 (cheap to code)."""
    n, h, w = tiles.shape
    rows, cols, height, width = mosaic_layout(n, h, w, align)
    out = np.zeros((height, width), dtype=tiles.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = tiles[i]
    return out


def untile(image: np.ndarray, n: int, h: int, w: int) -> np.ndarray:
    cols = math.ceil(math.sqrt(n))
    out = np.empty((n, h, w), dtype=image.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        out[i] = image[r * h : (r + 1) * h, c * w : (c + 1) * w]
    return out


# --- ffmpeg ------------------------------------------------------------------------------------


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _pix_fmt(bits: int) -> str:
    if bits not in (8, 10, 12):
        raise BaselineError(f"libx265 takes 8, 10 or 12 bits per sample, not {bits}")
    return "gray" if bits == 8 else f"gray{bits}le"


def encode_video(frames: np.ndarray, crf: float, cfg: H265Config) -> bytes:
    """(T, H, W) uint16 codes → raw H.265 Annex-B bitstream (`crf` may be `LOSSLESS`)."""
    t, h, w = frames.shape
    pix = _pix_fmt(cfg.bits)
    data = frames.astype("<u2" if cfg.bits > 8 else np.uint8).tobytes()
    rate = ["-x265-params", "log-level=error:lossless=1"] if crf == LOSSLESS else [
        "-crf", f"{crf:g}", "-x265-params", "log-level=error"
    ]  # fmt: skip
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "rawvideo", "-pix_fmt", pix, "-s", f"{w}x{h}", "-r", str(cfg.fps), "-i", "-",
        "-c:v", "libx265", "-preset", cfg.preset, *rate, "-pix_fmt", pix, "-f", "hevc", "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise BaselineError(f"libx265 encode failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout


def decode_video(bitstream: bytes, frames: int, h: int, w: int, bits: int) -> np.ndarray:
    """Raw H.265 bitstream → (T, H, W) uint16 codes; the frame count and size are checked."""
    pix = _pix_fmt(bits)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-f", "hevc", "-i", "-", "-f", "rawvideo", "-pix_fmt", pix, "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, input=bitstream, capture_output=True, check=False)
    if proc.returncode != 0:
        raise BaselineError(f"H.265 decode failed: {proc.stderr.decode(errors='replace')[-300:]}")
    dtype = np.dtype("<u2") if bits > 8 else np.dtype(np.uint8)
    expected = frames * h * w * dtype.itemsize
    if len(proc.stdout) != expected:
        raise BaselineError(f"H.265 decode gave {len(proc.stdout)} bytes, expected {expected}")
    return np.frombuffer(proc.stdout, dtype=dtype).reshape(frames, h, w).astype(np.uint16)


# --- one operating point -----------------------------------------------------------------------


@dataclass
class H265Point:
    """One CRF's coded sequence: the bitstreams, the side info and the exact byte count."""

    crf: float
    frames: int
    streams: dict[str, bytes]
    ranges: dict[str, tuple[float, float]]
    mlp_bytes: int
    decoded: GridSequence | None = field(default=None, repr=False)

    @property
    def side_bytes(self) -> int:
        return RANGE_BYTES * len(self.ranges) + LENGTH_BYTES * len(self.streams)

    def stream_bytes(self, max_level: int | None = None) -> int:
        """Bitstream bytes of levels 1..max_level (all when None)."""
        total = 0
        for name, data in self.streams.items():
            level = int(name.rsplit("/l", 1)[1])
            if max_level is None or level <= max_level:
                total += len(data)
        return total

    def total_bytes(self, max_level: int | None = None) -> int:
        """Everything a player needs for LOD max_level: its streams, their side info, the MLPs."""
        if max_level is None:
            side = self.side_bytes
        else:
            kept = sum(1 for n in self.streams if int(n.rsplit("/l", 1)[1]) <= max_level)
            side = (RANGE_BYTES + LENGTH_BYTES) * kept
        return self.stream_bytes(max_level) + side + self.mlp_bytes

    def bytes_per_frame(self, max_level: int | None = None) -> float:
        return self.total_bytes(max_level) / self.frames

    # Files: one .hevc per stream plus ranges.json, so a finished point is never coded again.
    def save(self, directory: Path) -> None:
        import json

        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.streams.items():
            (directory / (name.replace("/", "_") + ".hevc")).write_bytes(data)
        meta = {
            "crf": self.crf,
            "frames": self.frames,
            "mlp_bytes": self.mlp_bytes,
            "ranges": {k: list(v) for k, v in self.ranges.items()},
            "streams": list(self.streams),
        }
        tmp = directory / "point.json.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(directory / "point.json")  # written last: its presence marks a complete point

    @staticmethod
    def load(directory: Path) -> H265Point | None:
        import json

        meta_path = directory / "point.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text())
        streams = {
            n: (directory / (n.replace("/", "_") + ".hevc")).read_bytes() for n in meta["streams"]
        }
        ranges = {k: (float(v[0]), float(v[1])) for k, v in meta["ranges"].items()}
        return H265Point(meta["crf"], meta["frames"], streams, ranges, meta["mlp_bytes"])


def grid_ranges(seq: GridSequence) -> dict[str, tuple[float, float]]:
    """One (min, max) per grid over the whole sequence, rounded to float32 as stored."""
    out = {}
    for name, kind, lv in stream_names(seq.levels):
        arr = seq.stack(kind, lv)
        out[name] = (float(np.float32(arr.min())), float(np.float32(arr.max())))
    return out


def encode_point(seq: GridSequence, crf: float, cfg: H265Config = H265Config()) -> H265Point:
    ranges = grid_ranges(seq)
    streams = {}
    for name, kind, lv in stream_names(seq.levels):
        lo, hi = ranges[name]
        tiles = quantize(seq.stack(kind, lv), lo, hi, cfg.bits)
        mosaics = np.stack([tile(frame, cfg.align) for frame in tiles])
        streams[name] = encode_video(mosaics, crf, cfg)
    return H265Point(crf, seq.frames, streams, ranges, seq.mlp_bytes)


def decode_point(
    point: H265Point, like: GridSequence, cfg: H265Config = H265Config()
) -> GridSequence:
    """Decode every stream back to float grids shaped like `like` (the shapes are header info)."""
    density = [[None] * like.levels for _ in range(point.frames)]
    planes = [[None] * like.levels for _ in range(point.frames)]
    for name, kind, lv in stream_names(like.levels):
        shape = (like.density if kind == "density" else like.planes)[0][lv].shape
        n_tiles = shape[0] if kind == "density" else shape[0] * shape[1]
        h, w = shape[-2:]
        _, _, height, width = mosaic_layout(n_tiles, h, w, cfg.align)
        codes = decode_video(point.streams[name], point.frames, height, width, cfg.bits)
        lo, hi = point.ranges[name]
        for t in range(point.frames):
            grid = dequantize(untile(codes[t], n_tiles, h, w), lo, hi, cfg.bits).reshape(shape)
            (density if kind == "density" else planes)[t][lv] = grid
    return GridSequence(density, planes, point.mlp_bytes)  # type: ignore[arg-type]


def run_baseline(
    seq: GridSequence, cfg: H265Config = H265Config(), cache_dir: Path | None = None
) -> Iterator[H265Point]:
    """Code `seq` at every CRF of `cfg`, decode it, and yield the points (best quality first).

    With `cache_dir`, each finished point is stored in ``cache_dir/<crf_label>/`` and reused, so an
    interrupted evaluation resumes.
    """
    for crf in cfg.crfs:
        point = None
        sub = cache_dir / crf_label(crf) if cache_dir is not None else None
        if sub is not None:
            point = H265Point.load(sub)
        if point is None:
            point = encode_point(seq, crf, cfg)
            if sub is not None:
                point.save(sub)
        point.decoded = decode_point(point, seq, cfg)
        yield point


def mlp_nbytes(mlp: list) -> int:
    """Bytes of one MLP's weights and biases as float32 (how the container stores them)."""
    return sum(4 * (int(np.prod(tuple(w.shape))) + int(np.prod(tuple(b.shape)))) for w, b in mlp)
