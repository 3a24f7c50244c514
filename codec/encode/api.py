"""The encode pipeline: dataset -> (training) -> float chains -> quantize + code -> .fcv.

Stages:
1. float chains F_t per GoF (`GofChains`), from the trainer (`codec.encode.training`) or from a
   saved chains file (`codec.eval.chains_io`), with the GoF's frozen steps;
2. `encode_clip` (closed-loop quantization, table fitting, range coding) -> chunks;
3. every operating point is decoded by the real `Decoder` and scored on the dataset's test views
   (PSNR, SSIM), so the metadata describes exactly what a player shows;
4. the file is written under a temporary name and renamed (`write_atomic`).
Stages 2-4 are pure functions of the chains: re-running them gives a byte-identical file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from codec.container.header import ClipHeader
from codec.container.writer import Layout
from codec.decode import Decoder
from codec.field.config import FieldConfig

from .quantized import EncodedClip, GofChains, encode_clip


@dataclass(frozen=True)
class EncodeSettings:
    """What `fieldcast encode` asks for (documented defaults)."""

    preset: str = "default"
    """Training preset (codec/train/config.py): field shape and step budget. `default` is where
    the jointly trained file's RD lines hold (docs/RESULTS.md, issue 4); `fast` halves the steps."""
    levels: int | None = None
    """Override the preset's number of levels (finest levels dropped, or nested ones added)."""
    tracks: int = 4
    """Rate tracks K (1..8)."""
    gof: int = 10
    """GoF length N."""
    frames: int | None = None
    """Encode the first `frames` frames (None: all)."""
    device: str | None = None
    joint_rate: bool = True
    """False: train without any rate term and quantize afterwards (the ablation)."""
    seed: int = 0
    residuals: bool = True
    progressive: bool = True
    only_track: int | None = None
    """Fixed-rate baseline: a single-track model at this track's lambda."""
    score_views: int | None = None
    """Test views used for the PSNR/SSIM metadata (None: all test views)."""
    key_steps: int | None = None
    """Override the preset's I-frame step budget."""
    p_steps: int | None = None
    """Override the preset's P-frame step budget."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EncodeResult:
    path: Path
    layout: Layout
    encoded: EncodedClip
    metrics: dict[tuple[int, int], dict[str, float]]
    seconds: dict[str, float] = field(default_factory=dict)
    chains: list[GofChains] | None = None
    frame_log: list[dict[str, Any]] = field(default_factory=list)
    """Per trained frame: id, I/P, steps, wall and CPU seconds (empty for saved chains)."""


def _compact(obj: Any) -> Any:
    """Floats at 7 significant digits (float32 precision): the cameras cost header bytes."""
    if isinstance(obj, float):
        return float(f"{obj:.7g}")
    if isinstance(obj, list):
        return [_compact(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _compact(v) for k, v in obj.items()}
    return obj


def header_for(dataset, field_cfg: FieldConfig, frames: int, gof: int, tracks: int) -> ClipHeader:
    """The sequence header of a clip encoded from `dataset` (a codec.data MultiViewDataset)."""
    fid = dataset.frame_ids[0]
    cams = []
    test = set(dataset.test_views)
    for v in range(dataset.num_views):
        entry = _compact(dataset.camera(fid, v).to_json_entry())
        entry["name"] = dataset.camera_names[v]
        entry["split"] = "test" if v in test else "train"
        cams.append(entry)
    aabb = dataset.aabb.astype(float).tolist()
    return ClipHeader(
        frames=frames,
        fps=float(dataset.fps),
        gof=gof,
        tracks=tracks,
        channels=field_cfg.channels,
        density_res=field_cfg.density_res,
        plane_res=field_cfg.plane_res,
        hidden=field_cfg.hidden,
        render=field_cfg.render,
        aabb=(tuple(aabb[0]), tuple(aabb[1])),  # type: ignore[arg-type]
        background=tuple(float(x) for x in dataset.background),  # type: ignore[arg-type]
        cameras=cams,
    )


def score_points(
    data: bytes,
    dataset,
    device: torch.device,
    views: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[tuple[int, int], dict[str, float]]:
    """PSNR/SSIM of every (track, level) on the dataset's test views, via the real decoder."""
    from codec.eval.measure import ViewSet, measure_point

    dec = Decoder(data, device)
    h = dec.header
    test_views = list(dataset.test_views)[: views or None] or [0]
    viewset = ViewSet.from_dataset(dataset, test_views, list(range(h.frames)), "test", device)
    out: dict[tuple[int, int], dict[str, float]] = {}
    for r in range(h.tracks):
        for lv in range(1, h.levels + 1):
            if progress:
                progress(f"score track {r} level {lv}")
            score = measure_point(lambda t, r=r, lv=lv: dec.frame(t, r, lv), viewset)
            out[(r, lv - 1)] = {"psnr": score.psnr, "ssim": score.ssim}
    return out


def write_clip(
    path: str | Path,
    header: ClipHeader,
    chains: list[GofChains],
    *,
    dataset=None,
    device: torch.device | None = None,
    settings: dict[str, Any] | None = None,
    score_views: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> EncodeResult:
    """Chains -> .fcv at `path` (atomic). Scores the points when a dataset is given."""
    t0 = time.perf_counter()
    encoded = encode_clip(header, chains)
    t1 = time.perf_counter()
    metrics: dict[tuple[int, int], dict[str, float]] = {}
    if dataset is not None:
        draft = encoded.build()
        metrics = score_points(draft.data, dataset, device or torch.device("cpu"), score_views, progress)
    t2 = time.perf_counter()
    info = dict(settings or {})
    info["coding"] = encoded.stats.to_dict()
    layout = encoded.write(path, metrics, info)
    return EncodeResult(
        Path(path), layout, encoded, metrics, {"code": t1 - t0, "score": t2 - t1}
    )


def field_from_chains(chains: list[GofChains], base: FieldConfig | None = None) -> FieldConfig:
    """The field shape implied by saved chains (render constants from `base`)."""
    g0 = chains[0]
    base = base or FieldConfig()
    return FieldConfig(
        density_res=tuple(int(d.shape[-1]) for d in g0.density[0]),
        plane_res=tuple(int(p.shape[-1]) for p in g0.planes[0]),
        channels=int(g0.planes[0][0].shape[1]),
        hidden=tuple(int(w.shape[0]) for w, _ in g0.mlp[:-1]),
        render=base.render,
    ).validate()


def encode_dataset(
    dataset,
    out: str | Path,
    settings: EncodeSettings,
    *,
    device: torch.device | None = None,
    work_dir: Path | None = None,
    chains_path: Path | None = None,
    save_chains: Path | None = None,
    progress: bool = True,
    interrupt_after: int | None = None,
) -> EncodeResult:
    """Dataset -> .fcv. Training resumes from `work_dir` checkpoints when they exist."""
    from codec.errors import FieldCastError

    device = device or torch.device("cpu")
    t0 = time.perf_counter()
    train_info: dict[str, Any] = {}
    if chains_path is not None:
        from codec.eval.chains_io import load_chains

        try:
            chains = load_chains(Path(chains_path))
        except (OSError, KeyError, ValueError) as exc:
            raise FieldCastError(f"{chains_path}: cannot read float chains ({exc})") from None
        from codec.train.config import preset

        # Chains hold grids, not the rendering constants: those come from the preset.
        field_cfg = field_from_chains(chains, preset(settings.preset).field)
        frames = sum(len(g.density) for g in chains)
        gof = len(chains[0].density)
        tracks = int(chains[0].steps.shape[0])
    else:
        from .training import train_chains

        chains, field_cfg, train_info = train_chains(
            dataset, settings, device, work_dir, progress=progress, interrupt_after=interrupt_after
        )
        frames = sum(len(g.density) for g in chains)
        gof = min(settings.gof, frames)
        tracks = int(chains[0].steps.shape[0])
    if settings.joint_rate:
        from .rate_hook import playback_render

        field_cfg = replace(field_cfg, render=playback_render(field_cfg.render))
    if save_chains is not None:
        from codec.eval.chains_io import save_chains as _save

        _save(Path(save_chains), chains)
    t_train = time.perf_counter() - t0
    header = header_for(dataset, field_cfg, frames, gof, tracks)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=tracks * field_cfg.levels + 1, desc="code+score", unit="step")

    def note(msg: str) -> None:
        if bar is not None:
            bar.set_postfix_str(msg)
            bar.update(1)

    meta = settings.to_dict()
    if "rate_model_bytes_per_track" in train_info:
        meta["rate_model_bytes_per_track"] = train_info["rate_model_bytes_per_track"]
    result = write_clip(
        out, header, chains, dataset=dataset, device=device, settings=meta,
        score_views=settings.score_views, progress=note,
    )
    if bar is not None:
        bar.close()
    result.seconds["train"] = t_train
    result.chains = chains
    result.frame_log = list(train_info.get("frames", []))
    return result
