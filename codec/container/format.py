"""Constants, limits and the fixed-size records of the .fcv container (docs/FORMAT.md)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"\x89FCV\r\n\x1a\n"
VERSION_MAJOR = 1
VERSION_MINOR = 1

FIXED_HEAD = struct.Struct("<8sHHQI")
"""magic, version major, version minor, file_size (u64), header_len (u32): 24 bytes."""
U32 = struct.Struct("<I")
INDEX_ENTRY = struct.Struct("<BBBBIIIQII")
"""kind, level, track, reserved, gof, frame, reserved, offset (u64), length, crc32: 32 bytes."""

KIND_GOF = 0
KIND_TABLES = 1
KIND_FRAME = 2
KIND_NAMES = {KIND_GOF: "gof", KIND_TABLES: "tables", KIND_FRAME: "frame"}


class Limits:
    """Every size a file declares is checked against these before anything is allocated."""

    HEADER_BYTES = 1 << 22
    META_BYTES = 1 << 22
    FRAMES = 100_000
    GOF = 10_000
    TRACKS = 8
    LEVELS = 6
    CHANNELS = 64
    DENSITY_RES = 257
    PLANE_RES = 1025
    HIDDEN = 1024
    LAYERS = 8
    CAMERAS = 4096
    VIEW_FREQS = 16
    INDEX_ENTRIES = 4_000_000


@dataclass(frozen=True)
class ChunkKey:
    """(kind, gof, frame, track, level); frame is the global frame index (GoF start for
    gof/tables chunks), level is 0-based (level index 0 = HPC level 1)."""

    kind: int
    gof: int
    frame: int
    track: int
    level: int


@dataclass(frozen=True)
class IndexEntry:
    key: ChunkKey
    offset: int
    length: int
    crc32: int

    def pack(self) -> bytes:
        k = self.key
        return INDEX_ENTRY.pack(
            k.kind, k.level, k.track, 0, k.gof, k.frame, 0, self.offset, self.length, self.crc32
        )

    @staticmethod
    def unpack(raw: bytes) -> tuple[IndexEntry, int, int]:
        """(entry, reserved byte, reserved u32); the caller checks the reserved fields."""
        kind, level, track, res0, gof, frame, res1, off, length, crc = INDEX_ENTRY.unpack(raw)
        return IndexEntry(ChunkKey(kind, gof, frame, track, level), off, length, crc), res0, res1
