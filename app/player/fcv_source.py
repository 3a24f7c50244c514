"""Adapter from the `.fcv` decoder (`codec.decode.decoder.Decoder`) to the player's FrameSource.

The decoder keeps one (GoF, track) chain state and restarts from the GoF's I-frame whenever the
track changes. During a quality change the engine decodes the old and the new track in turns, so
this adapter keeps one decoder per track (all sharing the file's bytes): each chain then only
steps forward. Tracks are numbered as in the file and `fieldcast info` (0-based), levels 1..L.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from codec.container.chunks import unpack_gof
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.reader import FcvFile, describe, read_source
from codec.decode.decoder import Decoder
from codec.errors import FormatError
from codec.field.config import RenderParams
from codec.field.grids import FrameGrids, MLPWeights

from .clip import ClipInfo
from .state import OperatingPoint


def _camera(entry: dict, index: int):
    from codec.data.cameras import Camera

    return Camera.from_json_entry(entry, name=f"camera {index}")


def _number(value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return math.nan
    return v


class FcvSource:
    """A `.fcv` clip as the player sees it: header/metadata for the UI, per-track decoders."""

    def __init__(self, path: str | Path, device: str | torch.device | None = None) -> None:
        self.path = Path(path)
        self._data = read_source(self.path)
        self._device = device
        first = Decoder(self._data, device)
        self._decoders: dict[int, Decoder] = {}
        h = first.header
        points = []
        for p in first.operating_points():
            try:
                points.append(
                    OperatingPoint(
                        track=int(p["track"]),
                        level=int(p["level"]),
                        bytes_per_frame=float(p["bytes_per_frame"]),
                        psnr=_number(p.get("psnr")),
                        ssim=_number(p.get("ssim")),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise FormatError("operating point metadata is malformed") from None
        if not points:
            # Metadata is advisory; without it every (track, level) still plays.
            points = [
                OperatingPoint(r, lv, float(lv * (r + 1)), math.nan)
                for r in range(h.tracks)
                for lv in range(1, h.levels + 1)
            ]
        cameras = []
        for i, entry in enumerate(h.cameras):
            try:
                cameras.append(_camera(entry, i))
            except (ValueError, KeyError, TypeError):
                continue  # a bad camera only loses its "snap to" entry
        self.info = ClipInfo(
            path=self.path,
            frames=h.frames,
            fps=h.fps,
            gof=h.gof,
            levels=h.levels,
            tracks=h.tracks,
            points=points,
            frame_bytes=self._frame_bytes(first, points),
            cameras=cameras,
            background=tuple(h.background),  # type: ignore[arg-type]
            aabb=h.aabb,
        )
        self.truncated = first.truncated
        self._decoders[points[-1].track] = first
        self._mlp_file: FcvFile | None = None

    @staticmethod
    def _frame_bytes(dec: Decoder, points: list[OperatingPoint]) -> dict[tuple[int, int], list[int]]:
        """Coded bytes per frame per point: its frame chunks, plus the GoF's MLP and tables at the
        GoF's first frame (that is when a player has to fetch them)."""
        h = dec.header
        out: dict[tuple[int, int], list[int]] = {}
        entries = list(dec.file.index.values())
        for p in points:
            per = [0] * h.frames
            for e in entries:
                k = e.key
                if k.kind == KIND_GOF:
                    per[k.frame] += e.length
                elif k.track == p.track and k.level < p.level and k.kind in (KIND_FRAME, KIND_TABLES):
                    per[k.frame] += e.length
            out[p.key] = per
        return out

    def gof_mlp(self, g: int) -> tuple[MLPWeights, int, RenderParams]:
        """GoF ``g``'s MLP (CPU tensors), channel count and render params, read straight from its
        GoF chunk without decoding a frame. Safe beside the decode thread: it reads the shared
        immutable bytes through its own index. Raises FormatError when the chunk is missing or
        damaged."""
        if self._mlp_file is None:
            self._mlp_file = FcvFile(self._data)
        h = self._mlp_file.header
        if not 0 <= g < h.gofs:
            raise FormatError(f"GoF {g} is outside the clip (0..{h.gofs - 1})")
        key = ChunkKey(KIND_GOF, g, h.gof_frames(g)[0], 0, 0)
        _, mlp = unpack_gof(h, self._mlp_file.chunk(key), describe(key))
        weights = [(torch.from_numpy(w.copy()), torch.from_numpy(b.copy())) for w, b in mlp]
        return weights, h.channels, h.render

    def decoder(self, track: int) -> Decoder:
        if track not in self._decoders:
            self._decoders[track] = Decoder(self._data, self._device)
        return self._decoders[track]

    def decode(self, frame: int, track: int, level: int) -> FrameGrids:
        return self.decoder(track).frame(frame, track, level)

    def close(self) -> None:
        self._decoders.clear()


def open_fcv(path: str | Path, device: str | torch.device | None = None) -> FcvSource:
    return FcvSource(path, device)
