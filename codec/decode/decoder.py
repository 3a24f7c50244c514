"""Decoder API: a .fcv file -> `FrameGrids` for (frame, track, level) on a torch device.

Level chains are independent (HPC), so the decoder keeps, for the current (GoF, track), one
integer state Q per level and the frame it belongs to. Asking for frame t at level l advances
each level j <= l from its own frame to t (raising l decodes only the new level's chunks;
stepping forward decodes one chunk per level); asking for an earlier frame, another GoF or
another track restarts from the GoF's I-frame. Symbols are range-decoded on the CPU
(constriction), then accumulated as int32 and dequantized (s * Q, float32) on the device, which
gives bit-identical grids on CPU and CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.container.chunks import unpack_gof, unpack_tables
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.header import ClipHeader
from codec.container.reader import FcvFile, describe, read_source
from codec.device import pick_device
from codec.entropy.coder import decode_channels
from codec.entropy.tables import IntTable
from codec.errors import FieldCastError, FormatError
from codec.field.grids import FrameGrids
from codec.quantize.closed_loop import dequantize


@dataclass
class _LevelState:
    frame: int = -1
    """Global frame index whose Q this holds; -1 = nothing decoded yet."""
    q: list[torch.Tensor] = field(default_factory=list)
    recon: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass
class DecodeStats:
    chunks: int = 0
    coder_seconds: float = 0.0
    total_seconds: float = 0.0


class Decoder:
    """Open a .fcv (path or bytes); `frame(t, track, level)` returns `FrameGrids`.

    ``level`` is 1-based (1..L). When the file is truncated, the highest level whose chunks are
    all present is used (`available_level`); if not even level 1 is, `FormatError`.
    """

    def __init__(
        self, source: str | Path | bytes, device: str | torch.device | None = None
    ) -> None:
        self.file = FcvFile(read_source(source))
        self.header: ClipHeader = self.file.header
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self._gof_cache: dict[int, tuple[np.ndarray, list[tuple[torch.Tensor, torch.Tensor]]]] = {}
        self._table_cache: dict[tuple[int, int, int], tuple[list[IntTable], list[IntTable]]] = {}
        self._key: tuple[int, int] | None = None  # (gof, track) of the level states
        self._levels: list[_LevelState] = []
        self._aabb = torch.tensor(self.header.aabb, dtype=torch.float32, device=self.device)
        self.stats = DecodeStats()

    # -- what is there -------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.header.frames

    @property
    def tracks(self) -> int:
        return self.header.tracks

    @property
    def levels(self) -> int:
        return self.header.levels

    @property
    def truncated(self) -> bool:
        return self.file.truncated

    def operating_points(self) -> list[dict[str, Any]]:
        return self.file.operating_points()

    def available_level(self, frame: int, track: int) -> int:
        """Highest level (1-based) whose chunks for frames GoF start..frame are all present."""
        self._check(frame, track, 1)
        h = self.header
        g = h.gof_of(frame)
        start = h.gof_frames(g)[0]
        if not self.file.has(ChunkKey(KIND_GOF, g, start, 0, 0)):
            return 0
        best = 0
        for lv in range(h.levels):
            if not self.file.has(ChunkKey(KIND_TABLES, g, start, track, lv)):
                break
            if not all(
                self.file.has(ChunkKey(KIND_FRAME, g, t, track, lv)) for t in range(start, frame + 1)
            ):
                break
            best = lv + 1
        return best

    # -- decoding ------------------------------------------------------------------------------
    def frame(self, t: int, track: int, level: int | None = None) -> FrameGrids:
        """Frame t at (track, level) as FrameGrids on the decoder's device."""
        import time

        t0 = time.perf_counter()
        h = self.header
        level = h.levels if level is None else level
        self._check(t, track, level)
        avail = self.available_level(t, track)
        if avail == 0:
            raise FormatError(f"frame {t} (track {track}) is not in the file (truncated)")
        use = min(level, avail)
        g = h.gof_of(t)
        steps, mlp = self._gof(g)
        if self._key != (g, track):
            self._key = (g, track)
            self._levels = [_LevelState() for _ in range(h.levels)]
        density, planes = [], []
        for lv in range(use):
            state = self._levels[lv]
            if state.frame > t:
                state = self._levels[lv] = _LevelState()
            self._advance(state, g, track, lv, t, steps[track, lv])
            assert state.recon is not None
            density.append(state.recon[0])
            planes.append(state.recon[1])
        self.stats.total_seconds += time.perf_counter() - t0
        return FrameGrids(density, planes, mlp, self._aabb, h.render)

    def _advance(
        self, state: _LevelState, g: int, track: int, lv: int, t: int, steps: np.ndarray
    ) -> None:
        import time

        h = self.header
        start = h.gof_frames(g)[0]
        if state.frame == t:
            return
        tables_i, tables_p = self._tables(g, track, lv)
        n = h.density_res[lv]
        m = h.plane_res[lv]
        shapes = [(n, n, n)] + [(3, m, m)] * h.channels
        for f in range(max(state.frame + 1, start), t + 1):
            key = ChunkKey(KIND_FRAME, g, f, track, lv)
            payload = self.file.chunk(key)
            c0 = time.perf_counter()
            sym = decode_channels(payload, tables_i if f == start else tables_p, shapes, describe(key))
            self.stats.coder_seconds += time.perf_counter() - c0
            self.stats.chunks += 1
            sym_t = [torch.from_numpy(s).to(self.device) for s in sym]
            state.q = sym_t if f == start else [a + b for a, b in zip(state.q, sym_t)]
            state.frame = f
        d = dequantize(state.q[0], float(steps[0]))
        p = torch.stack(
            [dequantize(q, float(s)) for q, s in zip(state.q[1:], steps[1:])], dim=1
        )
        state.recon = (d, p)

    def _gof(self, g: int) -> tuple[np.ndarray, list[tuple[torch.Tensor, torch.Tensor]]]:
        if g not in self._gof_cache:
            key = ChunkKey(KIND_GOF, g, self.header.gof_frames(g)[0], 0, 0)
            steps, mlp = unpack_gof(self.header, self.file.chunk(key), describe(key))
            mlp_t = [
                (torch.from_numpy(w.copy()).to(self.device), torch.from_numpy(b.copy()).to(self.device))
                for w, b in mlp
            ]
            self._gof_cache = {g: (steps, mlp_t)}  # one GoF at a time keeps memory flat
        return self._gof_cache[g]

    def _tables(self, g: int, track: int, lv: int) -> tuple[list[IntTable], list[IntTable]]:
        k = (g, track, lv)
        if k not in self._table_cache:
            key = ChunkKey(KIND_TABLES, g, self.header.gof_frames(g)[0], track, lv)
            if len(self._table_cache) > 4 * self.header.levels * self.header.tracks:
                self._table_cache.clear()
            self._table_cache[k] = unpack_tables(self.header, self.file.chunk(key), describe(key))
        return self._table_cache[k]

    def _check(self, t: int, track: int, level: int) -> None:
        h = self.header
        if not 0 <= t < h.frames:
            raise FieldCastError(f"frame must be 0..{h.frames - 1}, got {t}")
        if not 0 <= track < h.tracks:
            raise FieldCastError(f"track must be 0..{h.tracks - 1}, got {track}")
        if not 1 <= level <= h.levels:
            raise FieldCastError(f"level must be 1..{h.levels}, got {level}")
