"""Plain-Python playback state: operating points, the playback clock, automatic quality.

No Qt here: the widgets are thin views over these classes, so everything the player decides
(which frame to show, which operating point to play, when to step quality up or down) is
testable without a window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OperatingPoint:
    """One (rate track, level of detail) pair of a clip, with what the file says it costs."""

    track: int
    level: int
    bytes_per_frame: float
    psnr: float
    ssim: float | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.track, self.level)

    @property
    def kb_per_frame(self) -> float:
        return self.bytes_per_frame / 1024.0

    def label(self) -> str:
        psnr = f"{self.psnr:.2f} dB" if math.isfinite(self.psnr) else "n/a dB"
        return f"track {self.track} · level {self.level} · {self.kb_per_frame:.1f} KB/frame · {psnr}"


class OperatingPointModel:
    """All operating points ordered by bitrate (ties broken by PSNR), with a current index."""

    def __init__(self, points: Iterable[OperatingPoint]) -> None:
        pts = sorted(points, key=lambda p: (p.bytes_per_frame, p.psnr, p.level, p.track))
        if not pts:
            raise ValueError("a clip needs at least one operating point")
        self.points: list[OperatingPoint] = pts
        self._index = len(pts) - 1

    def __len__(self) -> int:
        return len(self.points)

    @property
    def index(self) -> int:
        return self._index

    @property
    def current(self) -> OperatingPoint:
        return self.points[self._index]

    def select(self, index: int) -> OperatingPoint:
        self._index = max(0, min(len(self.points) - 1, int(index)))
        return self.current

    def index_of(self, track: int, level: int) -> int:
        for i, p in enumerate(self.points):
            if p.key == (track, level):
                return i
        raise KeyError(f"no operating point track {track}, level {level}")

    def select_key(self, track: int, level: int) -> OperatingPoint:
        return self.select(self.index_of(track, level))

    def step(self, delta: int) -> OperatingPoint:
        return self.select(self._index + delta)

    def tracks(self) -> list[int]:
        return sorted({p.track for p in self.points})

    def levels(self) -> list[int]:
        return sorted({p.level for p in self.points})

    def by_track(self, track: int) -> list[OperatingPoint]:
        return sorted((p for p in self.points if p.track == track), key=lambda p: p.level)


class PlaybackClock:
    """Wall-clock playback that drops frames instead of slowing down.

    The frame to show is a function of elapsed real time, never of how many frames were shown:
    when decoding or rendering falls behind, the next shown frame simply skips ahead and the skipped
    ones are counted in ``dropped``.
    """

    def __init__(
        self,
        frame_count: int,
        fps: float,
        *,
        loop: bool = True,
        now: Callable[[], float] = time.perf_counter,
    ) -> None:
        if frame_count < 1:
            raise ValueError("a clip needs at least one frame")
        self.frame_count = int(frame_count)
        self._fps = float(fps) if fps > 0 else 25.0
        self.loop = loop
        self._now = now
        self.playing = False
        self._anchor_frame = 0.0
        self._anchor_time = now()
        self._last_shown: int | None = None
        self.shown = 0
        self.dropped = 0

    @property
    def fps(self) -> float:
        return self._fps

    @fps.setter
    def fps(self, value: float) -> None:
        pos = self.position()
        self._fps = max(0.1, float(value))
        self._reanchor(pos)

    def _reanchor(self, position: float) -> None:
        self._anchor_frame = position
        self._anchor_time = self._now()

    def position(self) -> float:
        """Fractional frame position now (wrapped when looping, clamped otherwise)."""
        pos = self._anchor_frame
        if self.playing:
            pos += (self._now() - self._anchor_time) * self._fps
        if self.loop:
            return pos % self.frame_count
        if pos >= self.frame_count - 1:
            if self.playing:
                # Stop at the end so a later play() restarts from a defined place.
                self.playing = False
                self._reanchor(float(self.frame_count - 1))
            return float(self.frame_count - 1)
        return max(0.0, pos)

    def frame(self) -> int:
        # The epsilon keeps float noise in wall-clock differences from showing a frame late.
        return min(self.frame_count - 1, int(math.floor(self.position() + 1e-6)))

    def play(self) -> None:
        if self.playing:
            return
        pos = self.position()
        if not self.loop and pos >= self.frame_count - 1:
            pos = 0.0
        self.playing = True
        self._reanchor(pos)

    def pause(self) -> None:
        if not self.playing:
            return
        pos = float(self.frame())
        self.playing = False
        self._reanchor(pos)

    def toggle(self) -> bool:
        self.pause() if self.playing else self.play()
        return self.playing

    def seek(self, frame: int) -> int:
        frame = max(0, min(self.frame_count - 1, int(frame)))
        self._reanchor(float(frame))
        self._last_shown = None
        return frame

    def step(self, delta: int) -> int:
        """Pause and move by ``delta`` frames (wrapping when looping)."""
        self.pause()
        target = self.frame() + int(delta)
        if self.loop:
            target %= self.frame_count
        return self.seek(target)

    def mark_shown(self, frame: int) -> int:
        """Record that ``frame`` was displayed; returns how many frames were skipped before it."""
        skipped = 0
        if self._last_shown is not None and self.playing and frame != self._last_shown:
            skipped = (frame - self._last_shown) % self.frame_count - 1
            skipped = max(0, skipped)
        self.dropped += skipped
        self.shown += 1
        self._last_shown = frame
        return skipped


@dataclass
class CostModel:
    """Measured per-frame costs (ms), smoothed, used by auto quality.

    Render cost is kept per level (the renderer's work depends on the level of detail, not on the
    track); decode cost per operating point. Unmeasured entries are extrapolated from measured
    ones: render cost roughly doubles per level (twice the samples per ray), decode cost scales with
    bytes.
    """

    smoothing: float = 0.3
    level_growth: float = 1.8
    render_ms: dict[int, float] = field(default_factory=dict)
    decode_ms: dict[tuple[int, int], float] = field(default_factory=dict)

    def _blend(self, old: float | None, new: float) -> float:
        return new if old is None else (1 - self.smoothing) * old + self.smoothing * new

    def add_render(self, level: int, ms: float) -> None:
        self.render_ms[level] = self._blend(self.render_ms.get(level), ms)

    def add_decode(self, point: OperatingPoint, ms: float) -> None:
        self.decode_ms[point.key] = self._blend(self.decode_ms.get(point.key), ms)

    def render_estimate(self, level: int) -> float | None:
        if level in self.render_ms:
            return self.render_ms[level]
        if not self.render_ms:
            return None
        nearest = min(self.render_ms, key=lambda lv: abs(lv - level))
        return self.render_ms[nearest] * self.level_growth ** (level - nearest)

    def decode_estimate(self, point: OperatingPoint, points: Sequence[OperatingPoint]) -> float:
        if point.key in self.decode_ms:
            return self.decode_ms[point.key]
        known = [p for p in points if p.key in self.decode_ms]
        if not known:
            return 0.0
        nearest = min(known, key=lambda p: abs(p.bytes_per_frame - point.bytes_per_frame))
        scale = point.bytes_per_frame / max(nearest.bytes_per_frame, 1.0)
        return self.decode_ms[nearest.key] * max(scale, 0.25)

    def frame_ms(self, point: OperatingPoint, points: Sequence[OperatingPoint]) -> float | None:
        """Estimated time one frame of ``point`` takes; decode runs beside rendering, so the
        slower of the two bounds the frame rate."""
        render = self.render_estimate(point.level)
        if render is None:
            return None
        return max(render, self.decode_estimate(point, points))


@dataclass
class AutoQuality:
    """Picks the highest operating point whose estimated frame time keeps the target fps.

    ``headroom`` < 1 leaves slack for the UI itself; ``hold_s`` stops it from flapping by keeping
    any choice for at least that long before stepping up again (stepping down is immediate).
    """

    target_fps: float = 25.0
    headroom: float = 0.85
    hold_s: float = 1.0
    enabled: bool = False
    _last_change: float = -math.inf

    def budget_ms(self) -> float:
        return 1000.0 / max(self.target_fps, 0.1) * self.headroom

    def choose(
        self, model: OperatingPointModel, costs: CostModel, now: float | None = None
    ) -> int:
        """Index of the point to play (the current one when nothing is measured yet)."""
        now = time.perf_counter() if now is None else now
        budget = self.budget_ms()
        best = 0
        for i, p in enumerate(model.points):
            ms = costs.frame_ms(p, model.points)
            if ms is None:
                return model.index
            if ms <= budget and model.points[best].psnr <= p.psnr:
                best = i
        if best > model.index and now - self._last_change < self.hold_s:
            return model.index
        if best != model.index:
            self._last_change = now
        return best
