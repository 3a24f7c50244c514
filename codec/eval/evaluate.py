"""`fieldcast eval`: encode every variant, score every operating point, compare the RD curves.

Variants (docs/EVALUATION.md):

* ``full`` — FieldCast: one jointly rate-trained model, K tracks × L levels in one file;
* ``no_joint_rate`` — ablation: trained without any rate term, quantized afterwards;
* ``post_training_h265`` — baseline: the float grids of the ``no_joint_rate`` training, 12-bit,
  tiled, coded with libx265 at the CRFs of `H265Config` (TeTriRF-style);
* ``fixed_rate`` — baseline: one separately trained model per track's λ (K encodes);
* ``no_residual`` / ``no_progressive`` — ablations with the same step counts and seeds as full.

Every variant is measured by the same code (codec.eval.measure) on the same frames and views,
and its bytes are counted as the .fcv container counts an operating point (the H.265 baseline
the same way: its streams, its side info and the MLPs). Encodes go through an
`EncoderBackend`, so the evaluation does not care how training is driven; each finished encode
and each scored point is kept under ``DIR/work/`` and reused, so an evaluation interrupted at
any point resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ..device import pick_device
from ..encode.quantized import GofChains
from ..errors import FieldCastError
from .baseline_h265 import DEFAULT_CRFS, H265Config
from .chains_io import chains_to_sequence, load_chains, save_chains
from .measure import ViewSet
from .points import FloatClip, clip_points, h265_points, unquantized_point
from .results import (
    FIXED_RATE,
    FULL,
    POST_TRAINING,
    VariantResult,
    markdown_table,
    summarize,
)

NO_JOINT_RATE = "no_joint_rate"
NO_RESIDUAL = "no_residual"
NO_PROGRESSIVE = "no_progressive"
ALL_VARIANTS = (FULL, NO_JOINT_RATE, POST_TRAINING, FIXED_RATE, NO_RESIDUAL, NO_PROGRESSIVE)
DESCRIPTIONS = {
    FULL: "FieldCast: one jointly rate-trained model, every (track, level) from one file",
    NO_JOINT_RATE: "ablation: no rate term in training (--no-joint-rate), quantized afterwards",
    POST_TRAINING: "baseline: --no-joint-rate grids, 12-bit tiled, libx265 per CRF (TeTriRF-style)",
    FIXED_RATE: "baseline: one separately trained model per track's lambda",
    NO_RESIDUAL: "ablation: independent frames (no residual modeling)",
    NO_PROGRESSIVE: "ablation: no progressive (coarse-to-fine, level-by-level) schedule",
}


# --- the encoder interface ---------------------------------------------------------------------


@dataclass(frozen=True)
class EncodeRequest:
    """One training + coding run, as the evaluation asks for it."""

    dataset: Path
    clip: Path
    """Where the finished .fcv goes (written atomically by the encoder)."""
    work_dir: Path
    """The encoder's checkpoints: asking again with the same request resumes from them."""
    preset: str
    frames: int | None
    tracks: int
    gof: int | None
    device: str | None
    seed: int
    downscale: int = 1
    """Image downscale the encoder trains at (the evaluation scores at the same one)."""
    key_steps: int | None = None
    """Override of the preset's I-frame steps (None: the preset's), the same for every variant."""
    p_steps: int | None = None
    """Override of the preset's P-frame steps."""
    no_joint_rate: bool = False
    residuals: bool = True
    progressive: bool = True
    only_track: int | None = None
    """Fixed-rate baseline: train one single-track model at this track's (0-based) λ."""
    keep_chains: bool = False
    """Also return the float chains F_t (what the H.265 baseline codes)."""


@dataclass
class EncodeOutcome:
    clip: Path
    steps: dict
    """Training step counts, e.g. {"key_steps": 1500, "p_steps": 400}."""
    seeds: list[int]
    seconds: float
    chains: list[GofChains] | None = None
    settings: dict = field(default_factory=dict)


class EncoderBackend(Protocol):
    def encode(self, request: EncodeRequest) -> EncodeOutcome: ...


def codec_backend(score_views: int | None = 1) -> EncoderBackend:
    """The real encoder (training + coding) of codec/encode.

    The encoder's own scoring (the PSNR in the file's metadata) uses `score_views` test views:
    the evaluation scores every point itself, on every test view, so one is enough here.
    """
    try:
        from ..encode.api import EncodeSettings, encode_dataset
    except ImportError as exc:
        raise FieldCastError(
            f"the training encoder is not available in this build ({exc}); "
            "`fieldcast eval` needs it to train the variants"
        ) from None

    class _Codec:
        def encode(self, request: EncodeRequest) -> EncodeOutcome:
            from ..data.dataset import load_dataset
            from ..train.config import preset

            p = preset(request.preset)
            settings = EncodeSettings(
                preset=request.preset,
                tracks=request.tracks,
                frames=request.frames,
                device=request.device,
                joint_rate=not request.no_joint_rate,
                seed=request.seed,
                residuals=request.residuals,
                progressive=request.progressive,
                only_track=request.only_track,
                score_views=score_views,
                key_steps=request.key_steps,
                p_steps=request.p_steps,
                **({"gof": request.gof} if request.gof else {}),
            )
            dataset = load_dataset(request.dataset, downscale=request.downscale)
            result = encode_dataset(
                dataset, request.clip, settings, device=pick_device(request.device),
                work_dir=request.work_dir, progress=True,
            )  # fmt: skip
            steps = {
                "key_steps": request.key_steps or p.train.key_steps,
                "p_steps": p.train.p_steps if request.p_steps is None else request.p_steps,
            }
            return EncodeOutcome(
                request.clip, steps, [request.seed], float(sum(result.seconds.values())),
                result.chains if request.keep_chains else None, settings.to_dict(),
            )  # fmt: skip

    return _Codec()


# --- configuration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalConfig:
    """What `fieldcast eval` measures. Defaults are the documented evaluation settings."""

    preset: str = "fast"
    """Training preset of every variant (same step counts and seeds for all)."""
    frames: int | None = None
    """Frames to encode and score (None: all of the dataset)."""
    tracks: int = 4
    """Rate tracks K of the full method (and models of the fixed-rate baseline)."""
    gof: int | None = None
    """GoF length (None: the encoder's default)."""
    seed: int = 0
    device: str | None = None
    variants: tuple[str, ...] = ALL_VARIANTS
    crfs: tuple[int, ...] = DEFAULT_CRFS
    """libx265 CRFs of the post-training baseline."""
    x265_preset: str = "medium"
    train_views: int | None = 6
    """Train cameras scored (evenly spaced over the train split; None: all). Test views: all."""
    lod_points: bool = True
    """Also score every level of the largest track (the per-level curve); False: full LOD only."""
    downscale: int | None = None
    """Image downscale of the evaluation views (None: the training preset's, as the encoder)."""
    key_steps: int | None = None
    """I-frame steps of every variant (None: the preset's)."""
    p_steps: int | None = None
    """P-frame steps of every variant (None: the preset's)."""

    def validate(self) -> EvalConfig:
        unknown = set(self.variants) - set(ALL_VARIANTS)
        if unknown:
            raise FieldCastError(f"unknown variants {sorted(unknown)}; choose from {ALL_VARIANTS}")
        if self.tracks < 1 or (self.frames is not None and self.frames < 1):
            raise FieldCastError("--tracks and --frames must be >= 1")
        return self

    def identity(self) -> dict:
        """Settings that make a cached result reusable (the variant list may grow)."""
        d = asdict(self)
        d.pop("variants")
        d.pop("device")
        for optional in ("key_steps", "p_steps"):  # absent unless overridden
            if d[optional] is None:
                d.pop(optional)
        return d


# --- the run -----------------------------------------------------------------------------------


def _evenly(items: list[int], count: int | None) -> list[int]:
    if count is None or count >= len(items):
        return list(items)
    idx = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(idx.tolist()))]


class Evaluation:
    """One evaluation directory: settings, cached work, and the results it produces."""

    def __init__(
        self,
        dataset: Path,
        out: Path,
        cfg: EvalConfig,
        backend: EncoderBackend | None = None,
        progress: bool = True,
    ) -> None:
        from ..data.dataset import load_dataset

        self.cfg = cfg.validate()
        self.dataset_path = Path(dataset)
        self.out = Path(out)
        self.work = self.out / "work"
        self.progress = progress
        self.device = pick_device(cfg.device)
        self._backend = backend
        self.dataset = load_dataset(self.dataset_path, downscale=self._downscale())
        n = (
            self.dataset.num_frames
            if cfg.frames is None
            else min(cfg.frames, self.dataset.num_frames)
        )
        self.frames = list(range(n))
        self._check_settings()
        self.test = ViewSet.from_dataset(
            self.dataset, self.dataset.test_views, self.frames, "test", self.device
        )
        if not self.test.count:
            raise FieldCastError(f"{dataset}: the dataset has no test cameras to evaluate on")
        self.train_view_ids = _evenly(self.dataset.train_views, cfg.train_views)
        self.train = ViewSet.from_dataset(
            self.dataset, self.train_view_ids, self.frames, "train", self.device
        )

    def _downscale(self) -> int:
        if self.cfg.downscale is not None:
            return self.cfg.downscale
        try:
            from ..train.config import PRESETS
        except ImportError:  # no trainer in this build: evaluate at full resolution
            return 1
        known = PRESETS.get(self.cfg.preset)
        return known.downscale if known is not None else 1

    @property
    def backend(self) -> EncoderBackend:
        if self._backend is None:
            self._backend = codec_backend()
        return self._backend

    def _check_settings(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "settings.json"
        mine = {"dataset": str(self.dataset_path.resolve()), **self.cfg.identity()}
        mine = json.loads(json.dumps(mine))  # tuples -> lists, as stored
        if path.is_file():
            stored = json.loads(path.read_text())
            if stored != mine:
                changed = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
                raise FieldCastError(
                    f"{self.out} holds an evaluation with other settings ({', '.join(changed)}); "
                    "use another output directory or remove it"
                )
        else:
            path.write_text(json.dumps(mine, indent=1))

    def _request(self, name: str, **kw) -> EncodeRequest:
        c = self.cfg
        return EncodeRequest(
            dataset=self.dataset_path,
            clip=self.work / name / "clip.fcv",
            work_dir=self.work / name / "encoder",
            preset=c.preset,
            frames=len(self.frames),
            tracks=c.tracks,
            gof=c.gof,
            device=c.device,
            seed=c.seed,
            downscale=self._downscale(),
            key_steps=c.key_steps,
            p_steps=c.p_steps,
            **kw,
        )

    def _encode(self, name: str, request: EncodeRequest) -> EncodeOutcome:
        """Run (or reuse) one encode; its outcome is stored once the clip is complete."""
        done = request.clip.parent / "outcome.json"
        chains_file = request.clip.parent / "chains.npz"
        if done.is_file() and request.clip.is_file():
            meta = json.loads(done.read_text())
            chains = load_chains(chains_file) if request.keep_chains else None
            return EncodeOutcome(
                request.clip,
                meta["steps"],
                meta["seeds"],
                meta["seconds"],
                chains,
                meta["settings"],
            )
        request.clip.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        outcome = self.backend.encode(request)
        if not request.clip.is_file():
            raise FieldCastError(f"the encoder did not write {request.clip}")
        if request.keep_chains:
            if outcome.chains is None:
                raise FieldCastError(f"{name}: the encoder returned no float chains")
            save_chains(chains_file, outcome.chains)
        seconds = outcome.seconds if outcome.seconds else time.perf_counter() - t0
        meta = {
            "steps": outcome.steps,
            "seeds": outcome.seeds,
            "seconds": seconds,
            "settings": outcome.settings,
        }
        done.write_text(json.dumps(meta, indent=1))
        outcome.seconds = seconds
        return outcome

    def _clip_variant(self, name: str, **kw) -> tuple[VariantResult, EncodeOutcome]:
        outcome = self._encode(name, self._request(name, **kw))
        pts = clip_points(
            outcome.clip,
            self.test,
            self.train,
            self.device,
            self.work / name / "points",
            "top" if self.cfg.lod_points else "full",
            self.progress,
        )
        result = VariantResult(
            name, DESCRIPTIONS[name], pts, outcome.steps, outcome.seeds, outcome.seconds,
            outcome.settings,
        )  # fmt: skip
        return result, outcome

    def _post_training(self) -> VariantResult:
        outcome = self._encode(
            NO_JOINT_RATE, self._request(NO_JOINT_RATE, no_joint_rate=True, keep_chains=True)
        )
        assert outcome.chains is not None
        seq, gof_of = chains_to_sequence(outcome.chains)
        header = _clip_header(outcome.clip)
        cfg = H265Config(crfs=self.cfg.crfs, preset=self.cfg.x265_preset)
        clip = FloatClip(
            seq,
            [ch.mlp for ch in outcome.chains],
            gof_of,
            torch.tensor(header.aabb, dtype=torch.float32),
            header.render,
        )
        pts = h265_points(
            clip, self.test, self.train, self.device, cfg, self.work / POST_TRAINING, self.progress
        )
        ref = unquantized_point(
            clip, self.test, self.train, self.device, self.work / POST_TRAINING / "points"
        )
        best = max(pts, key=lambda p: p.psnr_test)
        settings = {
            "crfs": list(cfg.crfs),
            "x265_preset": cfg.preset,
            "bits": cfg.bits,
            "align": cfg.align,
            "unquantized_psnr_test": ref.psnr_test,
            "unquantized_ssim_test": ref.ssim_test,
            "best_point_gap_db": ref.psnr_test - best.psnr_test,
        }
        return VariantResult(
            POST_TRAINING, DESCRIPTIONS[POST_TRAINING], pts, outcome.steps, outcome.seeds,
            outcome.seconds, settings,
        )  # fmt: skip

    def _fixed_rate(self) -> VariantResult:
        points, steps, seeds, seconds = [], {}, [], 0.0
        for r in range(self.cfg.tracks):
            name = f"{FIXED_RATE}_r{r + 1}"
            outcome = self._encode(name, self._request(name, only_track=r))
            tracks = _tracks_in(outcome.clip)
            pts = clip_points(
                outcome.clip, self.test, self.train, self.device, self.work / name / "points",
                "full", self.progress, tracks=[0] if tracks == 1 else [r],
            )  # fmt: skip
            for p in pts:
                p.label = f"model r{r + 1}/l{p.level}"
                p.track = r + 1
            points += pts
            steps[f"r{r + 1}"] = outcome.steps
            seeds += [s for s in outcome.seeds if s not in seeds]
            seconds += outcome.seconds
        return VariantResult(FIXED_RATE, DESCRIPTIONS[FIXED_RATE], points, steps, seeds, seconds)

    def run_variant(self, name: str) -> VariantResult:
        if name == FULL:
            return self._clip_variant(FULL)[0]
        if name == NO_JOINT_RATE:
            return self._clip_variant(NO_JOINT_RATE, no_joint_rate=True, keep_chains=True)[0]
        if name == POST_TRAINING:
            return self._post_training()
        if name == FIXED_RATE:
            return self._fixed_rate()
        if name == NO_RESIDUAL:
            return self._clip_variant(NO_RESIDUAL, residuals=False)[0]
        if name == NO_PROGRESSIVE:
            return self._clip_variant(NO_PROGRESSIVE, progressive=False)[0]
        raise FieldCastError(f"unknown variant {name}")

    def run(self) -> dict:
        """Every configured variant (cached ones reused), then results.json and results.md."""
        variants: dict[str, VariantResult] = {}
        order = [v for v in ALL_VARIANTS if v in self.cfg.variants]
        for name in order:
            variants[name] = self.run_variant(name)
        summary = summarize(variants)
        results = {
            **summary,
            "dataset": str(self.dataset_path),
            "frames": len(self.frames),
            "test_cameras": [self.dataset.camera_names[v] for v in self.dataset.test_views],
            "train_cameras": [self.dataset.camera_names[v] for v in self.train_view_ids],
            "settings": json.loads(json.dumps(asdict(self.cfg))),
            "bytes_counting": (
                "bytes_per_frame = every byte a player needs for the point / frames: .fcv header, "
                "index, GoF chunks (MLP, steps), tables and frame chunks of levels <= l of the "
                "track; H.265: raw HEVC streams + 8 B range per grid + 4 B length per stream + "
                "MLPs as float32"
            ),
            "variants": {k: v.to_dict() for k, v in variants.items()},
        }
        write_json(self.out / "results.json", results)
        (self.out / "results.md").write_text(markdown_table(variants, summary))
        return results


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, allow_nan=True))
    tmp.replace(path)


def _tracks_in(clip: Path) -> int:
    return _clip_header(clip).tracks


def _clip_header(clip: Path):  # noqa: ANN202
    from ..container.reader import FcvFile, read_source

    return FcvFile(read_source(clip)).header


def variant_results(results: dict) -> dict[str, VariantResult]:
    """The variants of a results.json, for redrawing a plot or a table."""
    return {k: VariantResult.from_dict(v) for k, v in results.get("variants", {}).items()}


__all__ = [
    "ALL_VARIANTS",
    "EncodeOutcome",
    "EncodeRequest",
    "EncoderBackend",
    "EvalConfig",
    "Evaluation",
    "codec_backend",
    "variant_results",
]
