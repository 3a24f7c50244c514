"""Assemble a .fcv file from its header and chunks; write it atomically."""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .format import (
    FIXED_HEAD,
    INDEX_ENTRY,
    KIND_FRAME,
    KIND_GOF,
    KIND_TABLES,
    MAGIC,
    U32,
    VERSION_MAJOR,
    VERSION_MINOR,
    ChunkKey,
    IndexEntry,
)
from .header import ClipHeader


@dataclass
class Layout:
    """Where everything went; for operating-point sizes and benchmarks."""

    data: bytes
    core_bytes: int
    """magic .. index CRC: what every player reads (the metadata section is not counted)."""
    entries: list[IndexEntry]

    def point_bytes(self, track: int, level: int) -> int:
        """Bytes a player needs for operating point (track, level) (0-based level)."""
        total = self.core_bytes
        for e in self.entries:
            k = e.key
            if k.kind == KIND_GOF or (
                k.kind in (KIND_TABLES, KIND_FRAME) and k.track == track and k.level <= level
            ):
                total += e.length
        return total


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


def build_fcv(
    header: ClipHeader,
    chunks: list[tuple[ChunkKey, bytes]],
    metrics: dict[tuple[int, int], dict[str, float]] | None = None,
    encoder: dict[str, Any] | None = None,
) -> Layout:
    """Serialize. ``chunks`` are in file order; ``metrics[(track, level)]`` holds psnr/ssim."""
    head_json = _dumps(header.to_json())
    n = len(chunks)
    core = FIXED_HEAD.size + len(head_json) + 4 + 4 + INDEX_ENTRY.size * n + 4
    # Metadata depends on sizes, sizes do not depend on the metadata: lay out chunks relative to
    # the end of the core first, then shift by the metadata section's length.
    rel_entries = []
    pos = 0
    for key, payload in chunks:
        rel_entries.append((key, pos, len(payload), zlib.crc32(payload)))
        pos += len(payload)
    chunk_bytes = pos
    sizes = Layout(b"", core, [IndexEntry(k, o, ln, c) for k, o, ln, c in rel_entries])
    points = []
    for r in range(header.tracks):
        for lv in range(header.levels):
            m = (metrics or {}).get((r, lv), {})
            points.append(
                {
                    "track": r,
                    "level": lv + 1,
                    "bytes": sizes.point_bytes(r, lv),
                    "bytes_per_frame": sizes.point_bytes(r, lv) / header.frames,
                    "psnr": m.get("psnr"),
                    "ssim": m.get("ssim"),
                }
            )
    meta_json = _dumps({"operating_points": points, "encoder": encoder or {}})
    base = core + 4 + len(meta_json) + 4
    entries = [IndexEntry(k, base + o, ln, c) for k, o, ln, c in rel_entries]
    file_size = base + chunk_bytes
    fixed = FIXED_HEAD.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, file_size, len(head_json))
    head = fixed + head_json
    index = U32.pack(n) + b"".join(e.pack() for e in entries)
    out = bytearray()
    out += head + U32.pack(zlib.crc32(head))
    out += index + U32.pack(zlib.crc32(index))
    out += U32.pack(len(meta_json)) + meta_json + U32.pack(zlib.crc32(meta_json))
    for _, payload in chunks:
        out += payload
    assert len(out) == file_size
    return Layout(bytes(out), core, entries)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write under a temporary name in the same directory, fsync, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
