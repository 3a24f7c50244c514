"""Playback engine: decodes on a worker thread, the UI only ever takes what is ready.

The UI thread calls `PlaybackEngine.frame_for(frame)` on every tick. It never waits: it gets the
grids of that frame at the *displayed* operating point if decoded, or ``None`` (keep showing the
previous picture: a dropped frame). A quality change (`set_target`) switches the displayed point
as soon as the UI asks for a frame that is decoded at the new point: at once when it is cached (or
when only the level goes down within a track: a lower LOD is a prefix of the levels already
decoded), otherwise the old point keeps playing while the worker decodes the new one ahead of the
playhead (the decoder restarts from the GoF's I-frame when the track changes). The time from the
request to the first frame shown at the new point is reported as the catch-up time.

Damaged chunks: a frame whose chunks fail to decode falls back to the highest level that decodes;
if none does, the last good frame keeps showing. One warning per clip goes to the event queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from codec.errors import FormatError
from codec.field.grids import FrameGrids

from .clip import FrameSource
from .state import OperatingPoint

Key = tuple[int, int, int]  # (frame, track, level)


@dataclass
class Decoded:
    """A decoded frame as stored in the cache; ``grids`` is None when nothing could be decoded."""

    grids: FrameGrids | None
    level: int
    """The level actually decoded (lower than asked for when a chunk was damaged)."""
    ms: float
    nbytes: int
    prepared: object | None = None
    """The renderer's CPU-side upload data, built on the worker (see ``prepare``)."""


@dataclass
class Shown:
    """What the UI should draw for a frame."""

    frame: int
    point: OperatingPoint
    grids: FrameGrids | None
    level: int
    prepared: object | None = None

    @property
    def payload(self) -> object | None:
        """What to hand the renderer: the prepared upload when there is one, else the grids."""
        return self.prepared if self.prepared is not None else self.grids


@dataclass
class EngineEvent:
    kind: str  # "decoded", "switched", "warning", "error"
    message: str = ""
    frame: int = -1
    point: OperatingPoint | None = None
    ms: float = 0.0
    catchup_s: float = 0.0


def _grid_bytes(grids: FrameGrids | None) -> int:
    if grids is None:
        return 0
    total = sum(d.numel() * d.element_size() for d in grids.density)
    total += sum(p.numel() * p.element_size() for p in grids.planes)
    return int(total)


class PlaybackEngine:
    """Owns the worker thread and the decoded-frame cache of one clip."""

    def __init__(
        self,
        source: FrameSource,
        point: OperatingPoint,
        *,
        prefetch: int = 6,
        cache_mb: float = 384.0,
        clock: Callable[[], float] = time.perf_counter,
        prepare: Callable[[FrameGrids], object] | None = None,
    ) -> None:
        """``prepare`` runs on the worker after each decode (e.g. the GL renderer's
        ``prepare_frame``: composing, occupancy, texel packing) so the UI thread only uploads."""
        self.source = source
        self.prepare = prepare
        self.frames = source.info.frames
        self.prefetch = max(1, prefetch)
        self.cache_bytes = int(cache_mb * 2**20)
        self._now = clock
        self._lock = threading.Condition()
        self._cache: OrderedDict[Key, Decoded] = OrderedDict()
        self._cached_bytes = 0
        self._playhead = 0
        self._displayed = point
        self._target = point
        self._target_since = 0.0
        self._stop = False
        self._playing = False
        self.fps = float(source.info.fps) or 25.0
        self.late_tolerance = 2
        """A frame this many frames older than the playhead may still be shown (better late than
        holding an even older one when decoding falls behind)."""
        self._warned = False
        self.events: queue.SimpleQueue[EngineEvent] = queue.SimpleQueue()
        self.last_catchup_s: float | None = None
        self.worst_catchup_s = 0.0
        self.decode_ms = 0.0
        self.decoded_count = 0
        self._thread = threading.Thread(target=self._run, name="fieldcast-decode", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- UI side (never blocks long)
    @property
    def displayed(self) -> OperatingPoint:
        return self._displayed

    @property
    def target(self) -> OperatingPoint:
        return self._target

    @property
    def switching(self) -> bool:
        return self._target != self._displayed

    def set_target(self, point: OperatingPoint) -> None:
        """Ask for a new operating point; it shows once a frame at the playhead is decoded."""
        with self._lock:
            if point == self._target:
                return
            self._target = point
            self._target_since = self._now()
            self._lock.notify_all()

    def set_playing(self, playing: bool, fps: float | None = None) -> None:
        """Paused, a new point is decoded at the playhead itself instead of ahead of it."""
        with self._lock:
            self._playing = bool(playing)
            if fps is not None:
                self.fps = float(fps)
            self._lock.notify_all()

    def seek(self, frame: int) -> None:
        with self._lock:
            self._playhead = frame % self.frames
            self._lock.notify_all()

    def frame_for(self, frame: int) -> Shown | None:
        """What to draw for ``frame`` now; None when it is not decoded (the UI keeps the old one).

        When ``frame`` itself is missing, the newest decoded frame at most ``late_tolerance``
        frames older is returned instead (its ``frame`` says which one it is).
        """
        frame %= self.frames
        with self._lock:
            if frame != self._playhead:
                self._playhead = frame
                self._lock.notify_all()
            for back in range(self.late_tolerance + 1):
                f = (frame - back) % self.frames
                if self._target != self._displayed:
                    hit = self._lookup(f, self._target)
                    if hit is not None:
                        self._switch_locked()
                        return Shown(f, self._displayed, hit.grids, hit.level, hit.prepared)
                hit = self._lookup(f, self._displayed)
                if hit is not None:
                    return Shown(f, self._displayed, hit.grids, hit.level, hit.prepared)
            return None

    def is_ready(self, frame: int, point: OperatingPoint) -> bool:
        with self._lock:
            return self._lookup(frame % self.frames, point) is not None

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._lock.notify_all()
        self._thread.join(timeout=10)
        try:
            self.source.close()
        except Exception:  # noqa: BLE001 - closing must not mask the reason we are closing
            pass

    def cache_info(self) -> tuple[int, int]:
        with self._lock:
            return len(self._cache), self._cached_bytes

    # ------------------------------------------------------------------------- shared helpers
    def _switch_locked(self) -> None:
        catchup = self._now() - self._target_since
        self._displayed = self._target
        self.last_catchup_s = catchup
        self.worst_catchup_s = max(self.worst_catchup_s, catchup)
        self.events.put(EngineEvent("switched", point=self._displayed, catchup_s=catchup))

    def _lookup(self, frame: int, point: OperatingPoint) -> Decoded | None:
        """Cached frame at ``point``, or a higher level of the same track cut down to it."""
        exact = self._cache.get((frame, point.track, point.level))
        if exact is not None:
            self._cache.move_to_end((frame, point.track, point.level))
            return exact
        for (f, track, level), dec in self._cache.items():
            if f == frame and track == point.track and level > point.level and dec.grids:
                if dec.level >= point.level:
                    return Decoded(dec.grids.at_lod(point.level), point.level, 0.0, 0)
        return None

    def _store(self, key: Key, dec: Decoded) -> None:
        old = self._cache.pop(key, None)
        if old is not None:
            self._cached_bytes -= old.nbytes
        self._cache[key] = dec
        self._cached_bytes += dec.nbytes
        self._evict()

    def _distance_ahead(self, frame: int) -> int:
        return (frame - self._playhead) % self.frames

    def _evict(self) -> None:
        protected = {self._displayed.key, self._target.key}
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            # Drop what is needed last: other points first, then the frames furthest ahead
            # (the ones just behind the playhead are furthest ahead when looping).
            victim = max(
                self._cache,
                key=lambda k: ((k[1], k[2]) not in protected, self._distance_ahead(k[0])),
            )
            self._cached_bytes -= self._cache.pop(victim).nbytes

    # ---------------------------------------------------------------------------- worker side
    def _next_job(self) -> tuple[int, OperatingPoint] | None:
        """The most urgent (frame, point) not yet decoded, or None when prefetch is full."""
        head = self._playhead
        shown = self._displayed
        wants: list[tuple[int, OperatingPoint]] = []
        if self._target != shown:
            # Catch the new point up first, starting where the playhead will be by the time it is
            # decoded; the old point only fills in the frame at the playhead meanwhile.
            start = head + self._catchup_lead()
            ahead = [((start + i) % self.frames, self._target) for i in range(self.prefetch)]
            wants += ahead[:2] + [(head, shown)] + ahead[2:]
        wants += [((head + i) % self.frames, shown) for i in range(self.prefetch)]
        for frame, point in wants:
            if self._lookup(frame, point) is None:
                return frame, point
        return None

    def _catchup_lead(self) -> int:
        if not self._playing:
            return 0
        # Frames the playhead advances while one frame decodes.
        frames_per_decode = self.decode_ms * self.fps / 1000.0
        return min(self.prefetch, int(frames_per_decode) + 1)

    def _run(self) -> None:
        while True:
            try:
                with self._lock:
                    while not self._stop and self._next_job() is None:
                        self._lock.wait(timeout=0.5)
                    if self._stop:
                        return
                    job = self._next_job()
                    assert job is not None
                    frame, point = job
                dec = self._decode(frame, point)
                with self._lock:
                    self._store((frame, point.track, point.level), dec)
                    self.decoded_count += 1
                    self._lock.notify_all()
            except Exception as exc:  # noqa: BLE001 - a dead worker would freeze playback silently
                self.events.put(EngineEvent("error", message=f"decode thread: {type(exc).__name__}: {exc}"))
                time.sleep(0.2)

    def _decode(self, frame: int, point: OperatingPoint) -> Decoded:
        start = time.perf_counter()
        level = point.level
        grids: FrameGrids | None = None
        problem: str | None = None
        while level >= 1:
            try:
                grids = self.source.decode(frame, point.track, level)
                # Compose the LOD here so the UI thread's upload does not pay for it.
                grids.composed()
                break
            except FormatError as exc:
                problem = problem or str(exc)
                level -= 1
            except Exception as exc:  # noqa: BLE001 - the worker must survive any bad frame
                problem = problem or f"{type(exc).__name__}: {exc}"
                self.events.put(EngineEvent("error", message=problem, frame=frame, point=point))
                level = 0
        ms = (time.perf_counter() - start) * 1000.0
        if problem is not None and not self._warned:
            self._warned = True
            fallback = (
                f"showing level {level} instead" if grids is not None else "holding the last good frame"
            )
            self.events.put(
                EngineEvent(
                    "warning",
                    message=f"frame {frame} (track {point.track}, level {point.level}) is damaged: "
                    f"{problem}; {fallback}",
                    frame=frame,
                    point=point,
                )
            )
        if grids is not None:
            self.decode_ms = ms if self.decoded_count == 0 else 0.7 * self.decode_ms + 0.3 * ms
            self.events.put(EngineEvent("decoded", frame=frame, point=point, ms=ms))
        # A truncated file decodes at the highest complete level, which may be lower than asked.
        got = grids.lod if grids is not None else 0
        prepared = None
        nbytes = _grid_bytes(grids)
        if grids is not None and self.prepare is not None:
            try:
                prepared = self.prepare(grids)
                nbytes += sum(
                    int(getattr(getattr(prepared, name, None), "nbytes", 0))
                    for name in ("density", "planes", "skip")
                )
            except Exception as exc:  # noqa: BLE001 - the UI can still upload the plain grids
                self.events.put(EngineEvent("error", message=f"prepare failed: {exc}", frame=frame))
        return Decoded(grids, got, ms, nbytes, prepared)
