"""Payloads of the GoF chunk (steps + MLP) and of the tables chunk."""

from __future__ import annotations

import numpy as np

from codec.entropy.tables import IntTable, read_tables
from codec.entropy.varint import ByteReader
from codec.errors import FormatError

from .header import ClipHeader


def gof_payload_size(h: ClipHeader) -> int:
    n = h.tracks * h.levels * h.symbol_channels
    n += sum(o * i + o for o, i in h.mlp_shapes())
    return 4 * n


def pack_gof(steps: np.ndarray, mlp: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """steps float32 (K, L, 1+C) then each layer's W[out][in] and b[out], float32 LE."""
    parts = [np.ascontiguousarray(steps, dtype="<f4").tobytes()]
    for w, b in mlp:
        parts.append(np.ascontiguousarray(w, dtype="<f4").tobytes())
        parts.append(np.ascontiguousarray(b, dtype="<f4").tobytes())
    return b"".join(parts)


def unpack_gof(
    h: ClipHeader, payload: bytes | memoryview, what: str
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    if len(payload) != gof_payload_size(h):
        raise FormatError(f"{what}: {len(payload)} bytes, expected {gof_payload_size(h)}")
    arr = np.frombuffer(payload, dtype="<f4").astype(np.float32)
    if not np.isfinite(arr).all():
        raise FormatError(f"{what}: non-finite float")
    n_steps = h.tracks * h.levels * h.symbol_channels
    steps = arr[:n_steps].reshape(h.tracks, h.levels, h.symbol_channels)
    if not (steps > 0).all():
        raise FormatError(f"{what}: quantization steps must be > 0")
    pos = n_steps
    mlp = []
    for o, i in h.mlp_shapes():
        w = arr[pos : pos + o * i].reshape(o, i)
        pos += o * i
        b = arr[pos : pos + o]
        pos += o
        mlp.append((w, b))
    return steps, mlp


def pack_tables(tables_i: list[IntTable], tables_p: list[IntTable]) -> bytes:
    """I-frame tables for every symbol channel, then P-frame tables."""
    return b"".join(t.to_bytes() for t in [*tables_i, *tables_p])


def unpack_tables(
    h: ClipHeader, payload: bytes | memoryview, what: str
) -> tuple[list[IntTable], list[IntTable]]:
    reader = ByteReader(payload, what)
    c = h.symbol_channels
    tables = read_tables(reader, 2 * c)
    if reader.remaining():
        raise FormatError(f"{what}: {reader.remaining()} trailing bytes")
    return tables[:c], tables[c:]
