"""Long looping playback with quality changes through the real player window, frame by frame.

Shared by tests/robust/test_long_playback.py (a short loop) and bench/long_playback.py (10,000
frames). The window is paused and driven deterministically: every frame of the loop is seeked
to and waited for until the viewport has painted it at the current operating point, and the
point changes every `change_every` frames (hopping across tracks and levels). Resident memory
(/proc/self/statm), the renderer's GL object count, the GL names a fresh texture / buffer /
framebuffer gets, the decoder cache and the thread count are sampled along the way.

Live GL objects: after each sample's probe the driver asks the context, name by name, how many
textures, buffers and framebuffers exist (glIsTexture / glIsBuffer / glIsFramebuffer over every
name handed out so far; Mesa hands names out monotonically). That counts every object in the
viewport's share group, Qt's own included, independently of the renderer's bookkeeping; after
warm-up it must not grow. Objects created and deleted in between (Qt's transient compositing
textures) are counted separately as `created`, from how far the names advanced.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def write_loop_clip(path: Path, frames: int = 24, gof: int = 6, tracks: int = 2, levels: int = 3) -> Path:
    """A real .fcv from the codec's synthetic chains (several GoFs so the loop crosses I-frames)."""
    from codec.encode.quantized import encode_clip
    from codec.encode.synthetic import synthetic_chains, synthetic_header, synthetic_steps
    from codec.field.config import FieldConfig

    cfg = FieldConfig.nested(levels, 4, 8, channels=4, hidden=(16,))
    header = synthetic_header(cfg, frames=frames, gof=gof, tracks=tracks)
    chains = synthetic_chains(header, seed=5)
    for g in chains:
        g.steps = synthetic_steps(header, base=0.05)
    metrics = {(r, lv): {"psnr": 20.0 + 2 * r + lv, "ssim": 0.8} for r in range(tracks) for lv in range(levels)}
    encode_clip(header, chains).write(path, metrics, {"preset": "long-playback"})
    return path


@dataclass
class Sample:
    frames: int
    seconds: float
    rss: int
    gl_objects: int
    gl_names: tuple[int, int, int]
    gl_live: tuple[int, int, int]
    """Textures, buffers, framebuffers alive in the viewport's context (glIs* over all names)."""
    cache_entries: int
    cache_bytes: int
    threads: int


@dataclass
class PlaybackReport:
    frames: int
    quality_changes: int
    warmup_frames: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def warm(self) -> Sample:
        return next(s for s in self.samples if s.frames >= self.warmup_frames)

    @property
    def last(self) -> Sample:
        return self.samples[-1]

    def rss_growth(self) -> float:
        """Relative growth of resident memory from the end of warm-up to the end."""
        return (self.last.rss - self.warm.rss) / self.warm.rss

    def gl_created_after_warmup(self) -> dict[str, int]:
        """Textures, buffers and framebuffers created (by anyone, Qt included; most are transient)
        after warm-up, from how far the names advanced beyond the probe's own."""
        after = [s for s in self.samples if s.frames >= self.warmup_frames]
        out = {}
        for i, kind in enumerate(("textures", "buffers", "framebuffers")):
            out[kind] = sum(max(0, b.gl_names[i] - a.gl_names[i] - 1) for a, b in zip(after, after[1:]))
        return out

    def summary(self) -> dict[str, Any]:
        w, e = self.warm, self.last
        return {
            "frames": self.frames,
            "quality_changes": self.quality_changes,
            "warmup_frames": self.warmup_frames,
            "seconds": self.seconds,
            "frames_per_second": self.frames / self.seconds if self.seconds else 0.0,
            "rss_warm_mb": w.rss / 2**20,
            "rss_end_mb": e.rss / 2**20,
            "rss_max_after_warmup_mb": max(s.rss for s in self.samples if s.frames >= self.warmup_frames) / 2**20,
            "rss_growth_percent": 100 * self.rss_growth(),
            "gl_objects_warm": w.gl_objects,
            "gl_objects_end": e.gl_objects,
            "gl_objects_max": max(s.gl_objects for s in self.samples),
            "gl_names_warm": list(w.gl_names),
            "gl_names_max_after_warmup": [max(s.gl_names[i] for s in self.samples if s.frames >= self.warmup_frames) for i in range(3)],
            "gl_live_warm": list(w.gl_live),
            "gl_live_end": list(e.gl_live),
            "gl_live_max_after_warmup": [max(s.gl_live[i] for s in self.samples if s.frames >= self.warmup_frames) for i in range(3)],
            "gl_created_after_warmup": self.gl_created_after_warmup(),
            "cache_bytes_max_mb": max(s.cache_bytes for s in self.samples) / 2**20,
            "threads_warm": w.threads,
            "threads_end": e.threads,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "samples": [asdict(s) for s in self.samples]}


_GL = None


def _gl_lib():
    global _GL
    if _GL is None:
        import ctypes

        for name in ("libOpenGL.so.0", "libGL.so.1"):
            try:
                lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:  # pragma: no cover - every Mesa install has one of them
            raise RuntimeError("no libOpenGL / libGL to query GL objects")
        for fn in ("glIsTexture", "glIsBuffer", "glIsFramebuffer"):
            getattr(lib, fn).restype = ctypes.c_ubyte
            getattr(lib, fn).argtypes = [ctypes.c_uint]
        _GL = lib
    return _GL


def _gl_census(viewport) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(names a new texture / buffer / framebuffer gets now, live objects of each kind)."""
    viewport.makeCurrent()
    try:
        ctx = viewport.ctx
        tex = ctx.texture((1, 1), 4)
        buf = ctx.buffer(reserve=16)
        fbo = ctx.framebuffer([tex])
        names = (int(tex.glo), int(buf.glo), int(fbo.glo))
        fbo.release()
        buf.release()
        tex.release()
        gl = _gl_lib()
        live = tuple(
            sum(1 for n in range(1, top + 1) if fn(n))
            for fn, top in zip((gl.glIsTexture, gl.glIsBuffer, gl.glIsFramebuffer), names)
        )
        return names, live  # type: ignore[return-value]
    finally:
        viewport.doneCurrent()


def run_playback(
    window,
    clip: Path,
    frames: int,
    *,
    change_every: int = 7,
    warmup_frames: int | None = None,
    sample_every: int = 50,
    frame_timeout_s: float = 20.0,
    progress=None,
) -> PlaybackReport:
    """Loop ``clip`` for ``frames`` shown frames in ``window`` (a shown PlayerWindow)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if not window.open_path(clip):
        raise RuntimeError(f"cannot open {clip}: {window.last_error}")
    window.pause()
    clip_frames = window.clock.frame_count
    n_points = len(window.model)
    # Warm-up: every point has been visited on every frame of the loop at least once.
    warmup = warmup_frames if warmup_frames is not None else max(clip_frames * n_points, 2 * clip_frames)
    order = [(i * 5) % n_points for i in range(n_points)]  # hops across tracks and levels
    report = PlaybackReport(frames, 0, warmup, 0.0)
    start = time.perf_counter()

    def wait_for(frame: int) -> None:
        target = window.model.current
        deadline = time.perf_counter() + frame_timeout_s
        painted = window.viewport.painted
        while True:
            key = window.viewport.shown_key
            if (
                key is not None and key[1] == frame and key[2] == target.track and key[3] == target.level
                and window.viewport.painted > painted
            ):
                return
            if time.perf_counter() > deadline:
                raise TimeoutError(f"frame {frame} at {target.label()} not shown (showing {key})")
            app.processEvents()
            time.sleep(0.0005)

    def sample(shown: int) -> None:
        count, nbytes = window.engine.cache_info()
        names, live = _gl_census(window.viewport)
        report.samples.append(Sample(
            shown, time.perf_counter() - start, rss_bytes(), window.viewport.gl_objects(),
            names, live, count, nbytes, threading.active_count(),
        ))

    k = 0
    for i in range(frames):
        if i % change_every == 0:
            window.select_point(order[k % n_points])
            k += 1
            report.quality_changes += 1
        f = i % clip_frames
        window.seek(f)
        wait_for(f)
        if (i + 1) % sample_every == 0 or i + 1 == frames:
            sample(i + 1)
            if progress is not None:
                progress(i + 1)
    report.seconds = time.perf_counter() - start
    return report
