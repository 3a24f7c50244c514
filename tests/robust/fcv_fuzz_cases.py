"""Hostile-input cases for the .fcv reader and decoder, shared by the hypothesis fuzz test and
the atheris harness (bench/fuzz_fcv_atheris.py).

A *case* is a byte string handed to `Decoder`; `run_case` opens it, decodes the last frame of
every GoF in every track at full LOD (which touches every chunk of the file once, in the order
a player reads them) and classifies the outcome. The only acceptable outcomes are a
`FormatError` (at open or per frame) or a successful decode; anything else propagates.

The mutators below produce the file shapes docs/FORMAT.md says a reader must survive:
truncations, bit flips, rewritten fixed-head fields, header JSON with hostile values,
index entries pointing outside the file or overlapping, and chunk payloads edited *with their
CRCs fixed up* so that the range decoder, varints and tables are reached with garbage.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from codec.container.format import FIXED_HEAD, INDEX_ENTRY, U32
from codec.errors import FormatError

# ------------------------------------------------------------------------------ the tiny clip


@dataclass(frozen=True)
class TinyClip:
    data: bytes
    hashes: dict[tuple[int, int, int], str]
    """(frame, track, level 0-based) -> hash of the encoder's reconstruction of that level."""


def build_tiny_clip() -> TinyClip:
    """2 GoFs (the second one frame long), 2 tracks, 2 levels, 3 frames, from synthetic float
    chains via the codec's own chain encoder and writer: about 6 KB (the issue asks <= 20 KB).
    Coarse steps keep the tables short, so a full decode of the clip takes ~15 ms."""
    from codec.encode.quantized import encode_clip
    from codec.encode.synthetic import synthetic_chains, synthetic_header, synthetic_steps
    from codec.field.config import FieldConfig

    cfg = FieldConfig.nested(2, 4, 4, channels=2, hidden=(8,))
    header = synthetic_header(cfg, frames=3, gof=2, tracks=2)
    chains = synthetic_chains(header, seed=3)
    for gof in chains:
        gof.steps = synthetic_steps(header, base=0.25)
    enc = encode_clip(header, chains)
    metrics = {(r, lv): {"psnr": 20.0 + r + lv, "ssim": 0.5} for r in range(2) for lv in range(2)}
    data = enc.build(metrics, {"preset": "fuzz"}).data
    return TinyClip(data, dict(enc.hashes))


# ------------------------------------------------------------------------------ file anatomy


@dataclass
class Anatomy:
    """Byte positions of a well-formed file's sections (computed from the original clip)."""

    head_len: int
    index_pos: int  # position of N
    n: int
    meta_pos: int  # position of M

    @property
    def head_end(self) -> int:
        return FIXED_HEAD.size + self.head_len

    @property
    def entries_pos(self) -> int:
        return self.index_pos + 4

    def entry_pos(self, i: int) -> int:
        return self.entries_pos + INDEX_ENTRY.size * i

    @property
    def index_crc_pos(self) -> int:
        return self.entry_pos(self.n)


def anatomy(data: bytes) -> Anatomy:
    head_len = FIXED_HEAD.unpack_from(data, 0)[4]
    index_pos = FIXED_HEAD.size + head_len + 4
    (n,) = U32.unpack_from(data, index_pos)
    return Anatomy(head_len, index_pos, n, index_pos + 4 + INDEX_ENTRY.size * n + 4)


def fix_header_crc(buf: bytearray, head_len: int) -> None:
    end = FIXED_HEAD.size + head_len
    if end + 4 <= len(buf):
        buf[end : end + 4] = U32.pack(zlib.crc32(bytes(buf[:end])))


def fix_index_crc(buf: bytearray, a: Anatomy) -> None:
    buf[a.index_crc_pos : a.index_crc_pos + 4] = U32.pack(
        zlib.crc32(bytes(buf[a.index_pos : a.index_crc_pos]))
    )


def entries(data: bytes | bytearray, a: Anatomy) -> list[list[int]]:
    return [list(INDEX_ENTRY.unpack_from(data, a.entry_pos(i))) for i in range(a.n)]


def write_entries(buf: bytearray, a: Anatomy, rows: list[list[int]]) -> None:
    for i, row in enumerate(rows):
        buf[a.entry_pos(i) : a.entry_pos(i + 1)] = INDEX_ENTRY.pack(*row)
    fix_index_crc(buf, a)


def fix_all_crcs(data: bytes) -> bytes:
    """Recompute every CRC the original layout has (header, index, metadata, each chunk whose
    index entry still points inside the data), so mutated bytes reach the parsers behind them."""
    buf = bytearray(data)
    try:
        a = anatomy(buf)
        if a.n > 100_000 or a.meta_pos + 4 > len(buf):
            fix_header_crc(buf, a.head_len)
            return bytes(buf)
        fix_header_crc(buf, a.head_len)
        rows = entries(buf, a)
        for row in rows:
            off, length = row[7], row[8]
            if off + length <= len(buf):
                row[9] = zlib.crc32(bytes(buf[off : off + length]))
        write_entries(buf, a, rows)
        (m,) = U32.unpack_from(buf, a.meta_pos)
        end = a.meta_pos + 4 + m
        if end + 4 <= len(buf):
            buf[end : end + 4] = U32.pack(zlib.crc32(bytes(buf[a.meta_pos + 4 : end])))
    except struct.error:
        pass  # too short to fix: the reader sees it as it is
    return bytes(buf)


# ------------------------------------------------------------------------------ mutators
# Each takes the original bytes plus plain parameters (drawn by hypothesis or atheris).

HEADER_KEYS = ("frames", "fps", "gof", "tracks", "levels", "channels", "density_res",
               "plane_res", "hidden", "render", "aabb", "background", "cameras")


def truncate(data: bytes, cut: int) -> bytes:
    return data[: cut % (len(data) + 1)]


def flip_bits(data: bytes, positions: list[int]) -> bytes:
    """Flip distinct bits (a bit listed twice is flipped once, so the file always changes)."""
    buf = bytearray(data)
    for p in sorted({p % (8 * len(buf)) for p in positions}):
        byte, bit = divmod(p, 8)
        buf[byte] ^= 1 << bit
    return bytes(buf)


def set_fixed_head(data: bytes, field_name: str, value: int) -> bytes:
    """Rewrite one fixed-head field (version, file_size, header length) and re-CRC the header
    where the (possibly new) header length says its CRC is."""
    magic, major, minor, size, head_len = FIXED_HEAD.unpack_from(data, 0)
    vals = {"major": major, "minor": minor, "file_size": size, "head_len": head_len}
    limits = {"major": 0xFFFF, "minor": 0xFFFF, "file_size": 2**64 - 1, "head_len": 2**32 - 1}
    vals[field_name] = value % (limits[field_name] + 1)
    buf = bytearray(data)
    buf[: FIXED_HEAD.size] = FIXED_HEAD.pack(magic, vals["major"], vals["minor"], vals["file_size"],
                                             vals["head_len"])
    fix_header_crc(buf, vals["head_len"])
    return bytes(buf)


def rewrite_header(data: bytes, key: str, value: Any) -> bytes:
    """Header JSON with ``key`` set to ``value`` (or removed when value is the string "<drop>"),
    re-serialized with a fixed header length and CRC, so it reaches the header validator."""
    a = anatomy(data)
    head = json.loads(data[FIXED_HEAD.size : a.head_end])
    if value == "<drop>":
        head.pop(key, None)
    elif key.startswith("render."):
        head["render"][key.split(".", 1)[1]] = value
    else:
        head[key] = value
    raw = json.dumps(head).encode()
    magic, major, minor, size, _ = FIXED_HEAD.unpack_from(data, 0)
    fixed = FIXED_HEAD.pack(magic, major, minor, size, len(raw))
    shift = len(raw) - a.head_len
    rest = bytearray(data[a.head_end + 4 :])
    out = bytearray(fixed + raw + U32.pack(zlib.crc32(fixed + raw)) + rest)
    # Keep the index consistent with the moved chunks so the hostile header is what is tested.
    moved = anatomy(bytes(out))
    if moved.n == a.n:
        rows = entries(out, moved)
        for row in rows:
            row[7] = max(0, row[7] + shift)
        write_entries(out, moved, rows)
        size_pos = 12
        out[size_pos : size_pos + 8] = struct.pack("<Q", max(0, size + shift))
        fix_header_crc(out, len(raw))
    return bytes(out)


INDEX_FIELDS = ("kind", "level", "track", "res0", "gof", "frame", "res1", "offset", "length", "crc")


def edit_index(data: bytes, edits: list[tuple[int, str, int]]) -> bytes:
    """Set index fields (entry, field, value) and fix the index CRC: entries pointing outside the
    file, overlapping, duplicated or with bad keys, all looking valid to the CRC check."""
    a = anatomy(data)
    buf = bytearray(data)
    rows = entries(buf, a)
    widths = (8, 8, 8, 8, 32, 32, 32, 64, 32, 32)
    for i, name, value in edits:
        j = INDEX_FIELDS.index(name)
        rows[i % a.n][j] = value % (1 << widths[j])
    write_entries(buf, a, rows)
    return bytes(buf)


def copy_span(data: bytes, src: int, dst: int) -> bytes:
    """Entry dst gets src's offset (overlap) or, if dst == src, the next entry's span."""
    a = anatomy(data)
    rows = entries(data, a)
    s, d = src % a.n, dst % a.n
    if s == d:
        d = (d + 1) % a.n
    rows[d][7] = rows[s][7]
    rows[d][8] = rows[s][8]
    rows[d][9] = rows[s][9]
    buf = bytearray(data)
    write_entries(buf, a, rows)
    return bytes(buf)


def edit_chunk(data: bytes, entry: int, writes: list[tuple[int, int]], new_length: int | None) -> bytes:
    """Overwrite bytes inside one chunk (position within the chunk, byte value), optionally
    shorten its declared length, then fix that chunk's CRC in the index: a *valid-looking*
    damaged chunk that the varint, table and range-decoder parsers must reject cleanly."""
    a = anatomy(data)
    buf = bytearray(data)
    rows = entries(buf, a)
    row = rows[entry % a.n]
    off, length = row[7], row[8]
    if length:
        for pos, value in writes:
            buf[off + pos % length] = value & 0xFF
    if new_length is not None:
        row[8] = new_length % (length + 1)
    row[9] = zlib.crc32(bytes(buf[off : off + row[8]]))
    write_entries(buf, a, rows)
    return bytes(buf)


def huge_varints(data: bytes, entry: int, pos: int, nbytes: int) -> bytes:
    """Write a run of 0xFF continuation bytes (a varint that never ends or encodes a huge count,
    e.g. the escape count or a table size) inside a chunk and fix its CRC."""
    return edit_chunk(data, entry, [(pos + k, 0xFF) for k in range(nbytes)], None)


# ------------------------------------------------------------------------------ running a case


@dataclass
class Outcome:
    opened: bool = False
    decoded: int = 0
    """Frames decoded successfully."""
    rejected: int = 0
    """Frames (or the open) that ended in FormatError."""
    messages: list[str] = field(default_factory=list)
    grids: dict[tuple[int, int], Any] = field(default_factory=dict)
    """(frame, track) -> the FrameGrids decoded (only kept when ``keep`` is set)."""


def run_case(case: bytes, *, keep: bool = False) -> Outcome:
    """Open ``case`` and decode the last frame of every GoF in every track at full LOD.

    Raises whatever the reader or decoder raises other than FormatError (the fuzz test treats
    that as a failure)."""
    from codec.decode import Decoder

    out = Outcome()
    try:
        dec = Decoder(case, "cpu")
    except FormatError as exc:
        out.rejected += 1
        out.messages.append(str(exc))
        return out
    out.opened = True
    h = dec.header
    for track in range(h.tracks):
        for g in range(h.gofs):
            t = h.gof_frames(g)[-1]
            try:
                grids = dec.frame(t, track, h.levels)
            except FormatError as exc:
                out.rejected += 1
                out.messages.append(str(exc))
                continue
            out.decoded += 1
            if keep:
                out.grids[(t, track)] = grids
    return out


def declared_bytes(case: bytes) -> int:
    """What the file's header declares one decoded frame to hold (float32 grids of all levels),
    or 0 when the header cannot even be parsed: the unit of the allocation budget."""
    from codec.container.reader import FcvFile

    try:
        h = FcvFile(case).header
    except FormatError:
        return 0
    n = sum(d**3 + 3 * h.channels * m * m for d, m in zip(h.density_res, h.plane_res))
    return 4 * n
