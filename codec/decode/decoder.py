"""Decoder API: a .fcv file -> `FrameGrids` for (frame, track, level) on a torch device.

Level chains are independent (HPC), so the decoder keeps, for the current (GoF, track), one
integer state Q per level and the frame it belongs to. Asking for frame t at level l advances
each level j <= l from its own frame to t (raising l decodes only the new level's chunks;
stepping forward decodes one chunk per level); asking for an earlier frame, another GoF or
another track restarts from the GoF's I-frame. Symbols are range-decoded on the CPU
(constriction) and added straight into the level's int32 state Q (kept in numpy on the CPU);
the returned grids are s * Q computed as one float32 multiply per element (the formula of
`codec.quantize.closed_loop.dequantize`, correctly rounded IEEE arithmetic, so the grids are
bit-identical to the encoder's on every device) and then moved to the device.

Everything a (GoF, track, level) needs besides the payloads (constriction models, block sizes,
steps) is built once when its tables chunk is first used, not per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.container.chunks import unpack_gof, unpack_tables
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.header import ClipHeader
from codec.container.reader import FcvFile, describe, read_source
from codec.device import pick_device
from codec.entropy.coder import ChannelPlan, decode_into, plan_channels
from codec.errors import FieldCastError, FormatError
from codec.field.grids import FrameGrids


@dataclass
class _LevelState:
    frame: int = -1
    """Global frame index whose Q this holds; -1 = nothing decoded yet."""
    q_density: np.ndarray | None = None
    """int32 (n, n, n)."""
    q_planes: np.ndarray | None = None
    """int32 (C, 3, m, m): channel-major, so each symbol channel is one contiguous block."""
    recon: tuple[torch.Tensor, torch.Tensor] | None = None


@dataclass(frozen=True)
class _LevelCode:
    """Per (GoF, track, level): decode plans of the I- and P-frame tables and the steps."""

    plans_i: list[ChannelPlan]
    plans_p: list[ChannelPlan]
    step_density: np.float32
    step_planes: np.ndarray
    """float32 (1, C, 1, 1), broadcast over the (3, C, m, m) planes."""


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
        self._code_cache: dict[tuple[int, int, int], _LevelCode] = {}
        self._complete: dict[tuple[int, int], list[int]] = {}
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
        g = self.header.gof_of(frame)
        best = 0
        for last in self._complete_through(g, track):
            if last < frame:
                break
            best += 1
        return best

    def _complete_through(self, g: int, track: int) -> list[int]:
        """Per level: the last frame t of GoF g such that the GoF chunk, the level's tables and
        its frame chunks GoF start..t are all present (start - 1 if there is no such t). The
        bytes never change, so this is worked out once per (GoF, track)."""
        key = (g, track)
        if key not in self._complete:
            h = self.header
            frames = h.gof_frames(g)
            start = frames[0]
            out = []
            gof_ok = self.file.has(ChunkKey(KIND_GOF, g, start, 0, 0))
            for lv in range(h.levels):
                last = start - 1
                if gof_ok and self.file.has(ChunkKey(KIND_TABLES, g, start, track, lv)):
                    for t in frames:
                        if not self.file.has(ChunkKey(KIND_FRAME, g, t, track, lv)):
                            break
                        last = t
                out.append(last)
            if len(self._complete) >= 256:
                self._complete.clear()  # cheap to redo; keeps a long session's memory flat
            self._complete[key] = out
        return self._complete[key]

    # -- decoding ------------------------------------------------------------------------------
    def frame(self, t: int, track: int, level: int | None = None) -> FrameGrids:
        """Frame t at (track, level) as FrameGrids on the decoder's device."""
        t0 = time.perf_counter()
        h = self.header
        level = h.levels if level is None else level
        self._check(t, track, level)
        avail = self.available_level(t, track)
        if avail == 0:
            raise FormatError(f"frame {t} (track {track}) is not in the file (truncated)")
        use = min(level, avail)
        g = h.gof_of(t)
        _, mlp = self._gof(g)
        if self._key != (g, track):
            self._key = (g, track)
            self._levels = [_LevelState() for _ in range(h.levels)]
        density, planes = [], []
        for lv in range(use):
            state = self._levels[lv]
            if state.frame > t:
                state = self._levels[lv] = _LevelState()
            self._advance(state, g, track, lv, t)
            assert state.recon is not None
            density.append(state.recon[0])
            planes.append(state.recon[1])
        self.stats.total_seconds += time.perf_counter() - t0
        return FrameGrids(density, planes, mlp, self._aabb, h.render)

    def _advance(self, state: _LevelState, g: int, track: int, lv: int, t: int) -> None:
        if state.frame == t:
            return
        h = self.header
        start = h.gof_frames(g)[0]
        code = self._code(g, track, lv)
        n, m, c = h.density_res[lv], h.plane_res[lv], h.channels
        for f in range(max(state.frame + 1, start), t + 1):
            key = ChunkKey(KIND_FRAME, g, f, track, lv)
            payload = self.file.chunk(key)
            if f == start:
                state.q_density = np.zeros((n, n, n), dtype=np.int32)
                state.q_planes = np.zeros((c, 3, m, m), dtype=np.int32)
            assert state.q_density is not None and state.q_planes is not None
            c0 = time.perf_counter()
            try:
                decode_into(
                    payload,
                    code.plans_i if f == start else code.plans_p,
                    [state.q_density, *state.q_planes],
                    describe(key),
                    add=f != start,
                )
            except FormatError:
                # Q may be half-updated: forget it, the next request restarts at the I-frame.
                state.frame, state.q_density, state.q_planes, state.recon = -1, None, None, None
                raise
            self.stats.coder_seconds += time.perf_counter() - c0
            self.stats.chunks += 1
            state.frame = f
        assert state.q_density is not None and state.q_planes is not None
        # s·Q in float32 (Q cast to float32, then one correctly rounded product: the numbers
        # numpy's float32 multiply gives), by torch: its cast and multiply run on every thread.
        # A hostile step * Q may overflow to inf, as in numpy.
        d = torch.from_numpy(state.q_density).to(torch.float32)
        d.mul_(torch.from_numpy(np.asarray(code.step_density, dtype=np.float32)))
        p = torch.from_numpy(state.q_planes).permute(1, 0, 2, 3)  # (3, C, m, m) of FrameGrids
        p = p.to(torch.float32, memory_format=torch.contiguous_format)
        p.mul_(torch.from_numpy(np.ascontiguousarray(code.step_planes, dtype=np.float32)))
        state.recon = (d.to(self.device), p.to(self.device))

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

    def _code(self, g: int, track: int, lv: int) -> _LevelCode:
        k = (g, track, lv)
        if k not in self._code_cache:
            h = self.header
            key = ChunkKey(KIND_TABLES, g, h.gof_frames(g)[0], track, lv)
            if len(self._code_cache) > 4 * h.levels * h.tracks:
                self._code_cache.clear()
            tables_i, tables_p = unpack_tables(h, self.file.chunk(key), describe(key))
            n, m = h.density_res[lv], h.plane_res[lv]
            shapes = [(n, n, n)] + [(3, m, m)] * h.channels
            steps = self._gof(g)[0][track, lv].astype(np.float32)
            self._code_cache[k] = _LevelCode(
                plans_i=plan_channels(tables_i, shapes),
                plans_p=plan_channels(tables_p, shapes),
                step_density=steps[0],
                step_planes=np.ascontiguousarray(steps[1:]).reshape(1, -1, 1, 1),
            )
        return self._code_cache[k]

    def _check(self, t: int, track: int, level: int) -> None:
        h = self.header
        if not 0 <= t < h.frames:
            raise FieldCastError(f"frame must be 0..{h.frames - 1}, got {t}")
        if not 0 <= track < h.tracks:
            raise FieldCastError(f"track must be 0..{h.tracks - 1}, got {track}")
        if not 1 <= level <= h.levels:
            raise FieldCastError(f"level must be 1..{h.levels}, got {level}")
