"""Synthetic frame source for player tests (decoder-shaped, built from procedural grids)."""

from __future__ import annotations

import threading
import time

import torch

from app.player.clip import ClipInfo
from app.player.state import OperatingPoint
from codec.errors import FormatError
from codec.field.config import FieldConfig
from codec.field.grids import FrameGrids
from codec.field.mlp import init_mlp

CFG = FieldConfig.nested(3, density_base=4, plane_base=4, channels=4, hidden=(16,))


def blob_frame(frame: int, track: int, level: int, cfg: FieldConfig = CFG) -> FrameGrids:
    """A moving blob whose finer levels add detail and whose track scales the noise down."""
    g = torch.Generator().manual_seed(1000 * frame + 10 * track + 1)
    dens, planes = [], []
    shift = 0.3 * torch.sin(torch.tensor(frame * 0.4)).item()
    for lvl, (n, m) in enumerate(zip(cfg.density_res[:level], cfg.plane_res[:level])):
        x = torch.linspace(-1, 1, n)
        zz, yy, xx = torch.meshgrid(x, x, x, indexing="ij")
        r = ((xx - shift) ** 2 + yy**2 + zz**2).sqrt()
        base = 30 * (0.6 - r) if lvl == 0 else torch.zeros_like(r)
        dens.append(base + torch.randn(n, n, n, generator=g) / (track + 1))
        planes.append(torch.randn(3, cfg.channels, m, m, generator=g) * (lvl + 1))
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, torch.Generator().manual_seed(7))
    return FrameGrids(dens, planes, mlp, torch.tensor([[-1.0] * 3, [1.0] * 3]), cfg.render)


class SyntheticSource:
    """A FrameSource over `blob_frame` with an optional per-decode delay and damaged keys."""

    def __init__(
        self, frames: int = 12, tracks: int = 2, levels: int = 3, gof: int = 6,
        delay_s: float = 0.0, damaged: set[tuple[int, int, int]] | None = None,
    ) -> None:
        points = []
        for t in range(1, tracks + 1):
            for lv in range(1, levels + 1):
                points.append(OperatingPoint(t, lv, 800.0 * t * lv, 20.0 + 2 * t + 3 * lv))
        self.info = ClipInfo(
            path=None, frames=frames, fps=25.0, gof=gof, levels=levels, tracks=tracks,
            points=points,
            frame_bytes={p.key: [int(p.bytes_per_frame * (2 if f % gof == 0 else 1))
                                 for f in range(frames)] for p in points},
        )
        self.delay_s = delay_s
        self.damaged = damaged or set()
        self.calls: list[tuple[int, int, int]] = []
        self.threads: set[str] = set()

    def decode(self, frame: int, track: int, level: int) -> FrameGrids:
        self.calls.append((frame, track, level))
        self.threads.add(threading.current_thread().name)
        if self.delay_s:
            time.sleep(self.delay_s)
        for f, t, lv in self.damaged:
            if f == frame and t == track and lv <= level:
                raise FormatError(f"CRC mismatch in chunk (frame {f}, track {t}, level {lv})")
        return blob_frame(frame, track, level)

    def close(self) -> None:
        pass


def blob_chains(cfg: FieldConfig, frames: int, gof: int, tracks: int):
    """GofChains of a visible moving blob (levels add fixed detail), for encoding a real .fcv."""
    import numpy as np

    from codec.encode.quantized import GofChains

    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, torch.Generator().manual_seed(3))
    mlp[-1] = (mlp[-1][0] * 4.0, mlp[-1][1])  # colours spread over (0, 1)
    detail_gen = torch.Generator().manual_seed(11)
    details = [
        (torch.randn(n, n, n, generator=detail_gen), torch.randn(3, cfg.channels, m, m, generator=detail_gen))
        for n, m in zip(cfg.density_res, cfg.plane_res)
    ]

    def frame_levels(t: int):
        shift = 0.25 * float(torch.sin(torch.tensor(t * 0.5)))
        dens, planes = [], []
        for lvl, (n, _m) in enumerate(zip(cfg.density_res, cfg.plane_res)):
            x = torch.linspace(-1, 1, n)
            zz, yy, xx = torch.meshgrid(x, x, x, indexing="ij")
            r = ((xx - shift) ** 2 + (yy * 1.2) ** 2 + zz**2).sqrt()
            base = (25 * (0.6 - r)).clamp(-8, 12) if lvl == 0 else 1.5 * details[lvl][0] * (r < 0.7)
            dens.append(base.float())
            planes.append((details[lvl][1] * (1.0 / (lvl + 1)) * (1 + 0.2 * shift)).float())
        return dens, planes

    steps = np.zeros((tracks, cfg.levels, 1 + cfg.channels), np.float32)
    for r in range(tracks):
        steps[r, :, 0] = 0.4 / 2**r
        steps[r, :, 1:] = 0.2 / 2**r
    out = []
    for g0 in range(0, frames, gof):
        dl, pl = [], []
        for t in range(g0, min(frames, g0 + gof)):
            d, p = frame_levels(t)
            dl.append(d)
            pl.append(p)
        out.append(GofChains(dl, pl, mlp, steps))
    return out


def write_blob_clip(path, frames: int = 8, gof: int = 4, tracks: int = 2, levels: int = 3, fps: float = 10.0):
    """Encode the blob into a real .fcv at ``path`` with the codec's own encoder and writer."""
    from codec.container.header import ClipHeader
    from codec.encode.quantized import encode_clip

    cfg = FieldConfig.nested(levels, density_base=8, plane_base=8, channels=4, hidden=(16,))
    header = ClipHeader(
        frames=frames, fps=fps, gof=gof, tracks=tracks, channels=cfg.channels,
        density_res=cfg.density_res, plane_res=cfg.plane_res, hidden=cfg.hidden, render=cfg.render,
        aabb=((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)), background=(1.0, 1.0, 1.0),
        cameras=[
            {"fl_x": 60.0, "fl_y": 60.0, "cx": 32.0, "cy": 24.0, "w": 64, "h": 48,
             "transform_matrix": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                                  [0.0, 0.0, 1.0, 3.5], [0.0, 0.0, 0.0, 1.0]]},
            {"fl_x": 60.0, "fl_y": 60.0, "cx": 32.0, "cy": 24.0, "w": 64, "h": 48,
             "transform_matrix": [[0.0, 0.0, 1.0, 3.5], [0.0, 1.0, 0.0, 0.0],
                                  [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]},
        ],
    )
    enc = encode_clip(header, blob_chains(cfg, frames, gof, tracks))
    # Placeholder quality figures rising with track and level (the encoder measures real ones).
    metrics = {(r, lv): {"psnr": 24.0 + 2 * r + 1.5 * lv, "ssim": 0.8} for r in range(tracks) for lv in range(levels)}
    enc.write(path, metrics, {"preset": "player-test"})
    return path
