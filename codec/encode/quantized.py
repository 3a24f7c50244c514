"""From float chains to coded chunks: closed-loop quantization, table fitting, range coding.

`encode_clip` is a pure function of its inputs (no training, no randomness), so tests feed it
synthetic chains and the encode CLI feeds it the trainer's chains.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from codec.container.chunks import pack_gof, pack_tables
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.header import ClipHeader
from codec.container.writer import Layout, build_fcv, write_atomic
from codec.entropy.coder import ChunkStats, block_flags, element_mask, encode_channels
from codec.entropy.tables import IntTable, fit_table
from codec.quantize.closed_loop import ChainQuantizer


@dataclass
class GofChains:
    """One GoF's float chains F_t per level, its MLP and its frozen steps."""

    density: list[list[torch.Tensor]]
    """[frame in GoF][level] -> (n_l, n_l, n_l) float32, the float chain F_t (not residuals)."""
    planes: list[list[torch.Tensor]]
    """[frame in GoF][level] -> (3, C, m_l, m_l) float32."""
    mlp: list[tuple[Any, Any]]
    """(W[out, in], b[out]) per layer (torch tensors or numpy arrays)."""
    steps: np.ndarray
    """(K, L, 1 + C) quantization steps: [track][level][density, feature channel 0..C-1]."""


def tensor_hash(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's float32 bytes (device-independent)."""
    return hashlib.sha256(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()


def level_hash(density: torch.Tensor, planes: torch.Tensor) -> str:
    return tensor_hash(density)[:32] + tensor_hash(planes)[:32]


@dataclass
class CodingStats:
    chunks: int = 0
    coded_bytes: int = 0
    ideal_bits: float = 0.0
    raw_bytes: int = 0
    table_bytes: int = 0
    gof_bytes: int = 0
    symbols: int = 0
    escapes: int = 0
    per_track_bytes: dict[int, int] = field(default_factory=dict)
    """Frame-chunk bytes per track (for the rate-model estimate comparison)."""
    empirical_bits: float = 0.0
    """Σ over tables of (symbols × empirical entropy of the symbols that table codes)."""

    def add_chunk(self, st: ChunkStats) -> None:
        self.chunks += 1
        self.coded_bytes += st.coded_bytes
        self.ideal_bits += st.ideal_bits
        self.raw_bytes += st.raw_bytes
        self.symbols += st.symbols
        self.escapes += st.escapes

    def to_dict(self) -> dict[str, Any]:
        ideal_bytes = self.ideal_bits / 8 + self.raw_bytes
        return {
            "frame_chunks": self.chunks,
            "coded_bytes": self.coded_bytes,
            "ideal_bytes": ideal_bytes,
            "coded_over_ideal": self.coded_bytes / ideal_bytes if ideal_bytes else None,
            "bound_bytes": 1.02 * ideal_bytes + 4 * self.chunks,
            "empirical_entropy_bytes": self.empirical_bits / 8,
            "coded_over_empirical": (
                self.coded_bytes / (self.empirical_bits / 8) if self.empirical_bits else None
            ),
            "table_bytes": self.table_bytes,
            "gof_bytes": self.gof_bytes,
            "symbols": self.symbols,
            "escapes": self.escapes,
            "frame_bytes_per_track": [self.per_track_bytes[r] for r in sorted(self.per_track_bytes)],
        }


@dataclass
class EncodedClip:
    header: ClipHeader
    chunks: list[tuple[ChunkKey, bytes]]
    hashes: dict[tuple[int, int, int], str]
    """(frame, track, level) -> hash of the encoder's reconstruction s*Q of that level."""
    stats: CodingStats = field(default_factory=CodingStats)

    def build(
        self,
        metrics: dict[tuple[int, int], dict[str, float]] | None = None,
        encoder: dict[str, Any] | None = None,
    ) -> Layout:
        return build_fcv(self.header, self.chunks, metrics, encoder)

    def write(self, path, metrics=None, encoder=None) -> Layout:  # noqa: ANN001
        layout = self.build(metrics, encoder)
        write_atomic(path, layout.data)
        return layout


def _empirical_bits(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    _, counts = np.unique(values, return_counts=True)
    p = counts / values.size
    return float(-(counts * np.log2(p)).sum())


def _coded_values(sym: np.ndarray) -> np.ndarray:
    return sym[element_mask(block_flags(sym), sym.shape)]


def encode_clip(header: ClipHeader, gofs: list[GofChains]) -> EncodedClip:
    """Quantize and code every GoF; the chunk order is the file order (level-major per GoF)."""
    h = header
    if len(gofs) != h.gofs:
        raise ValueError(f"expected {h.gofs} GoFs, got {len(gofs)}")
    stats = CodingStats()
    chunks: list[tuple[ChunkKey, bytes]] = []
    hashes: dict[tuple[int, int, int], str] = {}
    for g, chains in enumerate(gofs):
        frames = list(h.gof_frames(g))
        if len(chains.density) != len(frames) or len(chains.planes) != len(frames):
            raise ValueError(f"GoF {g} needs {len(frames)} frames of chains")
        steps = np.asarray(chains.steps, dtype=np.float32)
        if steps.shape != (h.tracks, h.levels, h.symbol_channels) or not (steps > 0).all():
            raise ValueError(f"steps must be positive with shape {(h.tracks, h.levels, h.symbol_channels)}")
        mlp = [(np.asarray(_np(w), np.float32), np.asarray(_np(b), np.float32)) for w, b in chains.mlp]
        if [w.shape for w, _ in mlp] != h.mlp_shapes():
            raise ValueError(f"MLP shapes {[w.shape for w, _ in mlp]} != {h.mlp_shapes()}")
        gof_payload = pack_gof(h, steps, mlp)
        stats.gof_bytes += len(gof_payload)
        chunks.append((ChunkKey(KIND_GOF, g, frames[0], 0, 0), gof_payload))
        for lv in range(h.levels):
            frame_chunks: dict[tuple[int, int], bytes] = {}
            table_chunks: dict[int, bytes] = {}
            for r in range(h.tracks):
                quant = ChainQuantizer([float(s) for s in steps[r, lv]])
                per_frame: list[list[np.ndarray]] = []
                for i, t in enumerate(frames):
                    sym, (dq, pq) = quant.push(
                        chains.density[i][lv].detach().cpu(), chains.planes[i][lv].detach().cpu()
                    )
                    per_frame.append([s.numpy() for s in sym])
                    hashes[(t, r, lv)] = level_hash(dq, pq)
                tables: list[list[IntTable]] = [[], []]
                for c in range(h.symbol_channels):
                    for is_p, group in ((0, per_frame[:1]), (1, per_frame[1:])):
                        vals = [_coded_values(f[c]) for f in group]
                        v = np.concatenate(vals) if vals else np.zeros(0, np.int32)
                        tables[is_p].append(fit_table(v))
                        stats.empirical_bits += _empirical_bits(v)
                tpay = pack_tables(tables[0], tables[1])
                stats.table_bytes += len(tpay)
                table_chunks[r] = tpay
                for i, t in enumerate(frames):
                    payload, st = encode_channels(per_frame[i], tables[int(i > 0)])
                    stats.add_chunk(st)
                    stats.per_track_bytes[r] = stats.per_track_bytes.get(r, 0) + len(payload)
                    frame_chunks[(t, r)] = payload
            for r in range(h.tracks):
                chunks.append((ChunkKey(KIND_TABLES, g, frames[0], r, lv), table_chunks[r]))
            for t in frames:
                for r in range(h.tracks):
                    chunks.append((ChunkKey(KIND_FRAME, g, t, r, lv), frame_chunks[(t, r)]))
    return EncodedClip(h, chunks, hashes, stats)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
