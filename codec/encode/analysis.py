"""Coding statistics of an existing .fcv file, recomputed from its own chunks and tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from codec.container.chunks import unpack_tables
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.reader import FcvFile, describe
from codec.entropy.coder import decode_channels, encode_channels

from .quantized import CodingStats, _coded_values, _empirical_bits


def analyze(f: FcvFile) -> dict[str, Any]:
    """Decode every frame chunk, re-encode it with the file's tables, and compare.

    Returns `CodingStats.to_dict()` plus ``reencoded_identical`` (the coder is deterministic:
    re-encoding the decoded symbols reproduces the stored bytes).
    """
    h = f.header
    stats = CodingStats()
    identical = True
    for key, entry in f.index.items():
        if key.kind == KIND_GOF:
            stats.gof_bytes += entry.length
        elif key.kind == KIND_TABLES:
            stats.table_bytes += entry.length
    for g in range(h.gofs):
        frames = h.gof_frames(g)
        for r in range(h.tracks):
            for lv in range(h.levels):
                tk = ChunkKey(KIND_TABLES, g, frames[0], r, lv)
                ti, tp = unpack_tables(h, f.chunk(tk), describe(tk))
                n, m = h.density_res[lv], h.plane_res[lv]
                shapes = [(n, n, n)] + [(3, m, m)] * h.channels
                groups: list[list[list[np.ndarray]]] = [[[] for _ in shapes] for _ in range(2)]
                for t in frames:
                    key = ChunkKey(KIND_FRAME, g, t, r, lv)
                    payload = bytes(f.chunk(key))
                    tables = ti if t == frames[0] else tp
                    sym = decode_channels(payload, tables, shapes, describe(key))
                    again, st = encode_channels(sym, tables)
                    identical &= again == payload
                    stats.add_chunk(st)
                    for c, s in enumerate(sym):
                        groups[int(t != frames[0])][c].append(_coded_values(s))
                for grp in groups:
                    for vals in grp:
                        if vals:
                            stats.empirical_bits += _empirical_bits(np.concatenate(vals))
    out = stats.to_dict()
    out["reencoded_identical"] = bool(identical)
    per_frame = [[0] * h.tracks for _ in range(h.frames)]
    for key, entry in f.index.items():
        if key.kind == KIND_FRAME:
            per_frame[key.frame][key.track] += entry.length
    frame_bytes = [sum(row[r] for row in per_frame) for r in range(h.tracks)]
    out["frame_bytes_per_track"] = frame_bytes
    # Frame by frame (all levels): where a GoF's bytes go, I-frame against P-frames.
    out["frame_bytes_per_frame_track"] = per_frame
    estimate = (f.meta.get("encoder") or {}).get("rate_model_bytes_per_track")
    if estimate is not None and len(estimate) == h.tracks:
        # Issue 4: what training believed each track would cost, against its coded frame chunks.
        out["rate_estimate_over_real"] = [
            float(e) / b if b else None for e, b in zip(estimate, frame_bytes)
        ]
    return out
