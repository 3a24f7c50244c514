"""What the player needs from a clip: metadata for the UI and frame decoding for the engine.

`FrameSource` is the seam between the player and the codec: the engine calls ``decode`` on its
worker thread only, the UI reads ``info`` only. `app.player.fcv_source` adapts the real `.fcv`
decoder to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from codec.field.grids import FrameGrids

from .state import OperatingPoint


@dataclass
class ClipInfo:
    """Everything the UI shows about a clip without decoding a frame."""

    path: Path | None
    frames: int
    fps: float
    gof: int
    levels: int
    tracks: int
    points: list[OperatingPoint]
    frame_bytes: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    """Per operating point, the coded bytes each frame needs (for the per-frame bitrate plot)."""
    cameras: list[Any] = field(default_factory=list)
    """Capture cameras (codec.data.cameras.Camera or anything with fx fy cx cy width height c2w)."""
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    aabb: tuple[tuple[float, float, float], tuple[float, float, float]] = (
        (-1.0, -1.0, -1.0),
        (1.0, 1.0, 1.0),
    )

    def gof_starts(self) -> list[int]:
        return list(range(0, self.frames, max(1, self.gof)))

    def gof_of(self, frame: int) -> int:
        return frame // max(1, self.gof)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "(unnamed clip)"


class FrameSource(Protocol):
    info: ClipInfo

    def decode(self, frame: int, track: int, level: int) -> FrameGrids:
        """Grids of ``frame`` at (track, level). Called from one worker thread at a time.

        Raises codec.errors.FormatError when a needed chunk is damaged or missing.
        """
        ...

    def close(self) -> None: ...
