"""Parse a .fcv file (complete or truncated) into header, index, metadata and chunk access."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from codec.errors import FormatError

from .format import (
    FIXED_HEAD,
    INDEX_ENTRY,
    KIND_FRAME,
    KIND_GOF,
    KIND_NAMES,
    KIND_TABLES,
    MAGIC,
    U32,
    VERSION_MAJOR,
    ChunkKey,
    IndexEntry,
    Limits,
)
from .header import ClipHeader


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"{what} is not valid JSON ({exc.__class__.__name__})") from None


def expected_keys(h: ClipHeader) -> list[ChunkKey]:
    """Every chunk a complete file holds, in the order the writer lays them out."""
    keys = []
    for g in range(h.gofs):
        frames = h.gof_frames(g)
        keys.append(ChunkKey(KIND_GOF, g, frames[0], 0, 0))
        for lv in range(h.levels):
            for r in range(h.tracks):
                keys.append(ChunkKey(KIND_TABLES, g, frames[0], r, lv))
            for t in frames:
                for r in range(h.tracks):
                    keys.append(ChunkKey(KIND_FRAME, g, t, r, lv))
    return keys


def expected_count(h: ClipHeader) -> int:
    return h.gofs * (1 + h.tracks * h.levels) + h.frames * h.tracks * h.levels


class FcvFile:
    """A parsed file. Opening needs the complete prefix (header, index, metadata); any chunk
    beyond the cut of a truncated file is reported missing by `has`, never an error."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        size = len(data)
        if size < FIXED_HEAD.size:
            raise FormatError("not a .fcv file (too short)")
        magic, major, minor, file_size, head_len = FIXED_HEAD.unpack_from(data, 0)
        if magic != MAGIC:
            raise FormatError("not a .fcv file (bad magic)")
        if major != VERSION_MAJOR:
            raise FormatError(f"unsupported .fcv version {major}.{minor} (this reader: 1.x)")
        self.version = (major, minor)
        if head_len > Limits.HEADER_BYTES:
            raise FormatError(f"header length {head_len} exceeds the limit")
        pos = FIXED_HEAD.size
        if size < pos + head_len + 8:
            raise FormatError("file truncated inside its header")
        head_end = pos + head_len
        (crc,) = U32.unpack_from(data, head_end)
        if zlib.crc32(self.data[:head_end]) != crc:
            raise FormatError("header CRC mismatch (damaged file)")
        self.header = ClipHeader.from_json(_json(bytes(self.data[pos:head_end]), "header"))
        self.file_size = file_size
        pos = head_end + 4
        (n,) = U32.unpack_from(data, pos)
        expect = expected_count(self.header)
        if n != expect or n > Limits.INDEX_ENTRIES:
            raise FormatError(f"index holds {n} entries, the header implies {expect}")
        index_end = pos + 4 + INDEX_ENTRY.size * n
        if size < index_end + 4:
            raise FormatError("file truncated inside its index")
        (crc,) = U32.unpack_from(data, index_end)
        if zlib.crc32(self.data[pos:index_end]) != crc:
            raise FormatError("index CRC mismatch (damaged index)")
        self.core_bytes = index_end + 4
        pos = index_end + 4
        if size < pos + 4:
            raise FormatError("file truncated inside its metadata")
        (meta_len,) = U32.unpack_from(data, pos)
        if meta_len > Limits.META_BYTES or size < pos + 4 + meta_len + 4:
            raise FormatError("file truncated inside its metadata (or bad metadata length)")
        meta_raw = bytes(self.data[pos + 4 : pos + 4 + meta_len])
        (crc,) = U32.unpack_from(data, pos + 4 + meta_len)
        if zlib.crc32(meta_raw) != crc:
            raise FormatError("metadata CRC mismatch (damaged file)")
        self.meta = _json(meta_raw, "metadata")
        if not isinstance(self.meta, dict):
            raise FormatError("metadata is not a JSON object")
        self.chunks_start = pos + 4 + meta_len + 4
        if file_size < self.chunks_start:
            raise FormatError("declared file size is smaller than the file's prefix")
        self.index = self._read_index(data, head_end + 8, n)
        self.truncated = size < file_size

    def _read_index(self, data: bytes, start: int, n: int) -> dict[ChunkKey, IndexEntry]:
        h = self.header
        index: dict[ChunkKey, IndexEntry] = {}
        for i in range(n):
            entry, r0, r1 = IndexEntry.unpack(
                bytes(self.data[start + i * INDEX_ENTRY.size : start + (i + 1) * INDEX_ENTRY.size])
            )
            k = entry.key
            if r0 or r1 or k.kind not in KIND_NAMES:
                raise FormatError(f"index entry {i} is malformed")
            if entry.offset < self.chunks_start or entry.offset + entry.length > self.file_size:
                raise FormatError(f"index entry {i} points outside the file")
            if k in index:
                raise FormatError(f"index entry {i} duplicates a chunk")
            index[k] = entry
        if set(index) != set(expected_keys(h)):
            raise FormatError("index does not list exactly the chunks the header implies")
        spans = sorted((e.offset, e.offset + e.length) for e in index.values())
        for (_, end), (nxt, _) in zip(spans, spans[1:]):
            if nxt < end:
                raise FormatError("index entries overlap")
        return index

    # -- chunk access --------------------------------------------------------------------------
    def has(self, key: ChunkKey) -> bool:
        """True if the chunk is entirely inside the bytes we have (it may still fail its CRC)."""
        e = self.index.get(key)
        return e is not None and e.offset + e.length <= len(self.data)

    def chunk(self, key: ChunkKey) -> memoryview:
        e = self.index.get(key)
        what = describe(key)
        if e is None or not self.has(key):
            raise FormatError(f"{what} is missing (file truncated)")
        payload = self.data[e.offset : e.offset + e.length]
        if zlib.crc32(payload) != e.crc32:
            raise FormatError(f"{what}: CRC mismatch (damaged chunk)")
        return payload

    def operating_points(self) -> list[dict[str, Any]]:
        pts = self.meta.get("operating_points", [])
        return pts if isinstance(pts, list) else []


def describe(key: ChunkKey) -> str:
    name = KIND_NAMES.get(key.kind, "?")
    if key.kind == KIND_GOF:
        return f"{name} chunk of GoF {key.gof}"
    if key.kind == KIND_TABLES:
        return f"{name} chunk (GoF {key.gof}, track {key.track}, level {key.level + 1})"
    return f"{name} chunk (frame {key.frame}, track {key.track}, level {key.level + 1})"


def read_source(source: str | Path | bytes | bytearray | memoryview) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{source}: is a directory, not a .fcv file") from None
    except OSError as exc:
        raise FormatError(f"{source}: cannot read ({exc.strerror})") from None
