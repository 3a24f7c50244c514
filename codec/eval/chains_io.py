"""Float chains (a trained, unquantized clip) on disk as npz, and as the H.265 baseline's input.

The post-training baseline codes the float grids of a ``--no-joint-rate`` training; they are
kept beside the evaluation so a resumed run does not train again. npz, ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..encode.quantized import GofChains
from .baseline_h265 import GridSequence, mlp_nbytes


def save_chains(path: Path, gofs: list[GofChains]) -> None:
    arrays: dict[str, np.ndarray] = {"gofs": np.array([len(gofs)], np.int64)}
    for g, ch in enumerate(gofs):
        frames, levels = len(ch.density), len(ch.density[0])
        arrays[f"g{g}/shape"] = np.array([frames, levels, len(ch.mlp)], np.int64)
        arrays[f"g{g}/steps"] = np.asarray(ch.steps, np.float32)
        for t in range(frames):
            for lv in range(levels):
                arrays[f"g{g}/d/{t}/{lv}"] = _np(ch.density[t][lv])
                arrays[f"g{g}/p/{t}/{lv}"] = _np(ch.planes[t][lv])
        for i, (w, b) in enumerate(ch.mlp):
            arrays[f"g{g}/w/{i}"] = _np(w)
            arrays[f"g{g}/b/{i}"] = _np(b)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def load_chains(path: Path) -> list[GofChains]:
    with np.load(path, allow_pickle=False) as z:
        out = []
        for g in range(int(z["gofs"][0])):
            frames, levels, layers = (int(v) for v in z[f"g{g}/shape"])
            dens = [
                [torch.from_numpy(z[f"g{g}/d/{t}/{lv}"]) for lv in range(levels)]
                for t in range(frames)
            ]
            planes = [
                [torch.from_numpy(z[f"g{g}/p/{t}/{lv}"]) for lv in range(levels)]
                for t in range(frames)
            ]
            mlp = [
                (torch.from_numpy(z[f"g{g}/w/{i}"]), torch.from_numpy(z[f"g{g}/b/{i}"]))
                for i in range(layers)
            ]
            out.append(GofChains(dens, planes, mlp, z[f"g{g}/steps"]))
    return out


def chains_to_sequence(gofs: list[GofChains]) -> tuple[GridSequence, list[int]]:
    """All frames as one `GridSequence` (MLP bytes of every GoF counted once) and, per frame,
    the index of its GoF (whose MLP renders it)."""
    density, planes, gof_of = [], [], []
    mlp_bytes = 0
    for g, ch in enumerate(gofs):
        mlp_bytes += mlp_nbytes(ch.mlp)
        for t in range(len(ch.density)):
            density.append([_np(x) for x in ch.density[t]])
            planes.append([_np(x) for x in ch.planes[t]])
            gof_of.append(g)
    return GridSequence(density, planes, mlp_bytes), gof_of


def _np(x) -> np.ndarray:  # noqa: ANN001
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)
