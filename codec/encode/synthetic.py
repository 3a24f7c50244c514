"""Synthetic smooth float chains: a stand-in for a trained field in tests and benchmarks."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from codec.container.header import ClipHeader
from codec.field.config import FieldConfig
from codec.field.mlp import init_mlp

from .quantized import GofChains


def _smooth(shape: tuple[int, ...], gen: torch.Generator, coarse: int = 4) -> torch.Tensor:
    """Low-frequency random field of the given 3-D or (B, m, m) shape."""
    if len(shape) == 3 and shape[0] == shape[1] == shape[2]:
        base = torch.randn(1, 1, coarse, coarse, coarse, generator=gen)
        return F.interpolate(base, size=shape, mode="trilinear", align_corners=True)[0, 0]
    base = torch.randn(shape[0], 1, coarse, coarse, generator=gen)
    return F.interpolate(base, size=shape[1:], mode="bilinear", align_corners=True)[:, 0]


def synthetic_header(
    cfg: FieldConfig, frames: int, gof: int, tracks: int, fps: float = 10.0
) -> ClipHeader:
    return ClipHeader(
        frames=frames,
        fps=fps,
        gof=gof,
        tracks=tracks,
        channels=cfg.channels,
        density_res=cfg.density_res,
        plane_res=cfg.plane_res,
        hidden=cfg.hidden,
        render=cfg.render,
        aabb=((-1.0, -1.0, -1.0), (1.0, 1.0, 1.0)),
        background=(1.0, 1.0, 1.0),
        cameras=[
            {
                "fl_x": 40.0, "fl_y": 40.0, "cx": 16.0, "cy": 16.0, "w": 32, "h": 32,
                "transform_matrix": [
                    [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 3.0],
                    [0.0, 0.0, 0.0, 1.0],
                ],
            }
        ],
    )


def synthetic_steps(h: ClipHeader, base: float = 0.02, ratio: float = 2.0) -> np.ndarray:
    """Steps halving per track (track 0 coarsest); density twice as coarse as features."""
    s = np.zeros((h.tracks, h.levels, h.symbol_channels), dtype=np.float32)
    for r in range(h.tracks):
        for lv in range(h.levels):
            s[r, lv, :] = base / ratio**r
            s[r, lv, 0] *= 2.0
    return s


def synthetic_chains(h: ClipHeader, seed: int = 0, motion: float = 0.05) -> list[GofChains]:
    """Smooth per-level fields; each frame changes only a moving sub-box (so blocks go zero)."""
    gen = torch.Generator().manual_seed(seed)
    cfg = h.field_config()
    mlp = init_mlp(cfg.feature_dim + cfg.view_dim, cfg.hidden, gen)
    dens = [_smooth((n, n, n), gen) * (0.5**lv) for lv, n in enumerate(h.density_res)]
    planes = [
        torch.stack([_smooth((h.channels, m, m), gen) * (0.5**lv) for _ in range(3)])
        for lv, m in enumerate(h.plane_res)
    ]
    out: list[GofChains] = []
    d_cur, p_cur = dens, planes
    for g in range(h.gofs):
        dl, pl = [], []
        for t in h.gof_frames(g):
            d_next, p_next = [], []
            for lv in range(h.levels):
                n, m = h.density_res[lv], h.plane_res[lv]
                lo_n, lo_m = (t * n) // (2 * h.frames), (t * m) // (2 * h.frames)
                hi_n, hi_m = lo_n + max(2, n // 2), lo_m + max(2, m // 2)
                dd = torch.zeros(n, n, n)
                dd[lo_n:hi_n, lo_n:hi_n, lo_n:hi_n] = motion * _smooth((n, n, n), gen)[
                    lo_n:hi_n, lo_n:hi_n, lo_n:hi_n
                ]
                pp = torch.zeros(3, h.channels, m, m)
                pp[:, :, lo_m:hi_m, lo_m:hi_m] = motion * torch.randn(
                    3, h.channels, min(hi_m, m) - lo_m, min(hi_m, m) - lo_m, generator=gen
                )
                d_next.append(d_cur[lv] + (0 if t == 0 else 1) * dd)
                p_next.append(p_cur[lv] + (0 if t == 0 else 1) * pp)
            d_cur, p_cur = d_next, p_next
            dl.append(d_cur)
            pl.append(p_cur)
        out.append(GofChains(dl, pl, mlp, synthetic_steps(h)))
    return out
