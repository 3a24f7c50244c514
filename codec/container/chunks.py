"""Payloads of the GoF chunk (steps + MLP) and of the tables chunk."""

from __future__ import annotations

import numpy as np

from codec.entropy.tables import IntTable, read_tables
from codec.entropy.varint import ByteReader
from codec.errors import FormatError

from .header import MLP_DTYPES, ClipHeader


def _mlp_values(h: ClipHeader) -> int:
    return sum(o * i + o for o, i in h.mlp_shapes())


def gof_payload_size(h: ClipHeader) -> int:
    steps = 4 * h.tracks * h.levels * h.symbol_channels
    return steps + np.dtype(MLP_DTYPES[h.mlp_dtype]).itemsize * _mlp_values(h)


def pack_gof(
    h: ClipHeader, steps: np.ndarray, mlp: list[tuple[np.ndarray, np.ndarray]]
) -> bytes:
    """steps float32 (K, L, 1+C) then each layer's W[out][in] and b[out] in the header's
    `mlp_dtype`, little-endian. Weights are rounded to that precision here: an encoder that
    renders with its own copy of the MLP rounds it first (`codec.field.mlp.stored_mlp`)."""
    dtype = MLP_DTYPES[h.mlp_dtype]
    parts = [np.ascontiguousarray(steps, dtype="<f4").tobytes()]
    for w, b in mlp:
        for arr in (w, b):
            stored = np.ascontiguousarray(arr, dtype=dtype)
            if not np.isfinite(stored).all():
                raise ValueError(f"MLP weights do not fit {h.mlp_dtype} (largest |w| 65504)")
            parts.append(stored.tobytes())
    return b"".join(parts)


def unpack_gof(
    h: ClipHeader, payload: bytes | memoryview, what: str
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    if len(payload) != gof_payload_size(h):
        raise FormatError(f"{what}: {len(payload)} bytes, expected {gof_payload_size(h)}")
    n_steps = h.tracks * h.levels * h.symbol_channels
    steps = np.frombuffer(payload, dtype="<f4", count=n_steps).astype(np.float32)
    arr = np.frombuffer(payload, dtype=MLP_DTYPES[h.mlp_dtype], offset=4 * n_steps)
    arr = arr.astype(np.float32)
    if not (np.isfinite(arr).all() and np.isfinite(steps).all()):
        raise FormatError(f"{what}: non-finite float")
    steps = steps.reshape(h.tracks, h.levels, h.symbol_channels)
    if not (steps > 0).all():
        raise FormatError(f"{what}: quantization steps must be > 0")
    pos = 0
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
