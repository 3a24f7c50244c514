"""RD points of a coded clip (.fcv) and of the H.265 baseline, measured and cached per point.

Each measured point is stored as ``<cache>/<label>.json`` the moment it is done, so an
interrupted evaluation re-renders nothing it already scored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm import tqdm

from ..decode.decoder import Decoder
from ..field.config import RenderParams
from ..field.grids import FrameGrids
from .baseline_h265 import LOSSLESS, GridSequence, H265Config, crf_label, run_baseline
from .measure import ViewSet, measure_point
from .results import RDPoint


def _cached(cache: Path | None, label: str, make: Callable[[], RDPoint]) -> RDPoint:
    if cache is None:
        return make()
    path = cache / (label.replace("/", "_") + ".json")
    if path.is_file():
        return RDPoint(**json.loads(path.read_text()))
    point = make()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(point), indent=1))
    tmp.replace(path)
    return point


def _score(
    label: str,
    grids: Callable[[int], FrameGrids],
    test: ViewSet,
    train: ViewSet | None,
    bytes_per_frame: float,
    **kw,
) -> RDPoint:
    s_test = measure_point(grids, test)
    s_train = measure_point(grids, train) if train is not None and train.count else None
    return RDPoint(
        label=label,
        bytes_per_frame=bytes_per_frame,
        psnr_test=s_test.psnr,
        ssim_test=s_test.ssim,
        psnr_train=s_train.psnr if s_train else None,
        ssim_train=s_train.ssim if s_train else None,
        psnr_per_frame=s_test.psnr_per_frame,
        **kw,
    )


def clip_points(
    clip: Path,
    test: ViewSet,
    train: ViewSet | None,
    device: torch.device,
    cache: Path | None = None,
    levels: str = "top",
    progress: bool = True,
    tracks: list[int] | None = None,
) -> list[RDPoint]:
    """Operating points (track, level) of a .fcv, bytes/frame as the file counts them.

    Every track (or only `tracks`, 0-based) at full LOD, plus the lower levels: of every track
    (``levels="all"``), of the largest track only (``"top"``: the per-level curve the BD
    comparison uses) or of none (``"full"``).
    """
    dec = Decoder(clip, device=device)
    ops = {(int(p["track"]), int(p["level"])): p for p in dec.operating_points()}
    chosen = list(range(dec.tracks)) if tracks is None else tracks
    top = max(chosen)
    todo = [
        (r, lv)
        for r in chosen
        for lv in range(1, dec.levels + 1)
        if lv == dec.levels or levels == "all" or (levels == "top" and r == top)
    ]
    out = []
    for r, lv in tqdm(todo, desc=f"score {clip.parent.name}", unit="pt", disable=not progress):
        if (r, lv) not in ops:
            raise ValueError(f"{clip}: no operating point for track {r} level {lv}")
        out.append(
            _cached(
                cache,
                f"r{r + 1}_l{lv}",
                lambda r=r, lv=lv: _score(
                    f"r{r + 1}/l{lv}",
                    lambda t: dec.frame(t, r, lv),
                    test,
                    train,
                    float(ops[(r, lv)]["bytes_per_frame"]),
                    track=r + 1,
                    level=lv,
                    full_lod=lv == dec.levels,
                ),
            )
        )
    return out


@dataclass(frozen=True)
class FloatClip:
    """A float (uncoded) clip: its grid sequence and what renders it (MLP per GoF, box, maths)."""

    seq: GridSequence
    mlps: list[list[tuple[torch.Tensor, torch.Tensor]]]
    gof_of: list[int]
    """GoF index of every frame (which MLP renders it)."""
    aabb: torch.Tensor
    params: RenderParams

    def grids(self, device: torch.device, seq: GridSequence | None = None) -> Callable[[int], FrameGrids]:
        """Frame t of `seq` (default: the clip's own) as FrameGrids, rendered with its GoF's MLP."""
        seq = self.seq if seq is None else seq

        def grids(t: int) -> FrameGrids:
            return FrameGrids(
                [torch.from_numpy(d).to(device) for d in seq.density[t]],
                [torch.from_numpy(p).to(device) for p in seq.planes[t]],
                [(w.to(device), b.to(device)) for w, b in self.mlps[self.gof_of[t]]],
                self.aabb.to(device),
                self.params,
            )

        return grids


def unquantized_point(
    clip: FloatClip,
    test: ViewSet,
    train: ViewSet | None,
    device: torch.device,
    cache: Path | None = None,
) -> RDPoint:
    """The float field itself (no coding): the ceiling the baseline's best point is held to.
    Its bytes are the float32 grids + MLPs, for reference only."""
    seq = clip.seq
    raw = sum(
        4 * (d.size + p.size) for f_d, f_p in zip(seq.density, seq.planes) for d, p in zip(f_d, f_p)
    )
    return _cached(
        cache,
        "float",
        lambda: _score(
            "float",
            clip.grids(device),
            test,
            train,
            (raw + seq.mlp_bytes) / seq.frames,
            level=seq.levels,
        ),
    )


def h265_points(
    clip: FloatClip,
    test: ViewSet,
    train: ViewSet | None,
    device: torch.device,
    cfg: H265Config,
    cache: Path | None = None,
    progress: bool = True,
) -> list[RDPoint]:
    """One full-LOD point per CRF of the post-training H.265 baseline (best quality last)."""
    out = []
    # Coarse first (lossless last): the track index then rises with quality.
    crfs = sorted(cfg.crfs, key=lambda c: -1e9 if c == LOSSLESS else c, reverse=True)
    bar = tqdm(total=len(crfs), desc="h265", unit="crf", disable=not progress)
    for idx, crf in enumerate(crfs, start=1):
        label = crf_label(crf)

        def make(crf=crf, idx=idx, label=label) -> RDPoint:
            one = replace(cfg, crfs=(crf,))
            point = next(run_baseline(clip.seq, one, cache / "streams" if cache else None))
            assert point.decoded is not None
            return _score(
                label,
                clip.grids(device, point.decoded),
                test,
                train,
                point.bytes_per_frame(),
                track=idx,
                level=clip.seq.levels,
                full_lod=True,
                extra={
                    "crf": crf,
                    "stream_bytes": point.stream_bytes(),
                    "side_bytes": point.side_bytes,
                    "mlp_bytes": point.mlp_bytes,
                },
            )

        out.append(_cached(cache / "points" if cache else None, label, make))
        bar.update()
    bar.close()
    return out
