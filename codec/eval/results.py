"""RD points, per-variant results, the BD summary and the markdown table of an evaluation.

Plain data: everything here serializes to JSON (``results.json``) and back, so a plot or a table
can be redrawn without rendering anything again.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from .bjontegaard import CurveError, bd_psnr, bd_rate


@dataclass
class RDPoint:
    """One operating point of one method, measured on the evaluation views."""

    label: str
    """e.g. "r3/l4" (track 3, level 4) or "crf8/l4"."""
    bytes_per_frame: float
    """Everything a player needs for this point, divided by the frame count."""
    psnr_test: float
    ssim_test: float
    psnr_train: float | None = None
    ssim_train: float | None = None
    track: int | None = None
    """Rate track (1-based) or the CRF index of the baseline, best quality last."""
    level: int | None = None
    """LOD (1-based); the method's finest level is its full-LOD point."""
    full_lod: bool = True
    psnr_per_frame: list[float] = field(default_factory=list)
    """Test-view PSNR of each frame (for the per-frame plots)."""
    extra: dict = field(default_factory=dict)


@dataclass
class VariantResult:
    """Everything measured for one method: its points and how it was made."""

    name: str
    description: str
    points: list[RDPoint]
    steps: dict = field(default_factory=dict)
    """Training step counts, e.g. {"key_steps": 1500, "p_steps": 400}."""
    seeds: list[int] = field(default_factory=list)
    seconds: float | None = None
    """Wall time of the encode(s), when known."""
    settings: dict = field(default_factory=dict)

    def curve(self) -> tuple[list[float], list[float]]:
        """(bytes/frame, test PSNR) of the full-LOD points, sorted by rate."""
        pts = sorted((p for p in self.points if p.full_lod), key=lambda p: p.bytes_per_frame)
        return [p.bytes_per_frame for p in pts], [p.psnr_test for p in pts]

    def lod_curve(self, track: int | None = None) -> tuple[list[float], list[float]]:
        """(bytes/frame, test PSNR) of the per-level points of one track (default: the largest)."""
        tracks = [p.track for p in self.points if p.track is not None]
        if not tracks:
            return [], []
        track = max(tracks) if track is None else track
        pts = sorted((p for p in self.points if p.track == track), key=lambda p: p.level or 0)
        return [p.bytes_per_frame for p in pts], [p.psnr_test for p in pts]

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> VariantResult:
        points = [RDPoint(**p) for p in d.get("points", [])]
        return VariantResult(
            name=d["name"],
            description=d.get("description", ""),
            points=points,
            steps=d.get("steps", {}),
            seeds=list(d.get("seeds", [])),
            seconds=d.get("seconds"),
            settings=d.get("settings", {}),
        )


@dataclass
class BDValue:
    """A BD figure or the reason there is none (never a made-up number)."""

    bd_rate: float | None
    bd_psnr: float | None
    error: str | None = None

    def to_dict(self) -> dict:
        return {"bd_rate": self.bd_rate, "bd_psnr": self.bd_psnr, "error": self.error}


def compare(
    anchor: tuple[list[float], list[float]], test: tuple[list[float], list[float]]
) -> BDValue:
    """BD-rate (%) and BD-PSNR (dB) of `test` against `anchor`, or why they cannot be computed."""
    try:
        rate = bd_rate(anchor[0], anchor[1], test[0], test[1])
        gain = bd_psnr(anchor[0], anchor[1], test[0], test[1])
    except CurveError as exc:
        return BDValue(None, None, str(exc))
    return BDValue(rate, gain)


FULL = "full"
POST_TRAINING = "post_training_h265"
FIXED_RATE = "fixed_rate"
ABLATIONS = ("no_residual", "no_progressive", "no_joint_rate")


def summarize(variants: dict[str, VariantResult]) -> dict:
    """The headline BD figures of an evaluation (JSON-ready).

    ``bd_rate_vs_post_training`` and ``bd_rate_vs_fixed_rate`` are FieldCast's single model (test)
    against those anchors: negative = FieldCast needs fewer bytes. ``ablations`` maps each
    ablation to its BD-rate against the full method: positive = the ablation is worse.
    ``lod_ablations`` does the same on the per-level curve of the largest track.
    """
    out: dict = {
        "bd_rate_vs_post_training": None,
        "bd_psnr_vs_post_training": None,
        "bd_rate_vs_fixed_rate": None,
        "bd_psnr_vs_fixed_rate": None,
        "ablations": {},
        "ablations_bd_psnr": {},
        "lod_ablations": {},
        "errors": {},
    }
    full = variants.get(FULL)
    if full is None:
        out["errors"]["full"] = "the full method was not evaluated"
        return out
    for key, name in (("post_training", POST_TRAINING), ("fixed_rate", FIXED_RATE)):
        if name not in variants:
            out["errors"][key] = f"variant {name} was not evaluated"
            continue
        bd = compare(variants[name].curve(), full.curve())
        out[f"bd_rate_vs_{key}"] = bd.bd_rate
        out[f"bd_psnr_vs_{key}"] = bd.bd_psnr
        if bd.error:
            out["errors"][key] = bd.error
    if POST_TRAINING in variants:
        gap = variants[POST_TRAINING].settings.get("best_point_gap_db")
        out["post_training_best_gap_db"] = gap
        out["post_training_unquantized_psnr"] = variants[POST_TRAINING].settings.get(
            "unquantized_psnr_test"
        )
    for name in ABLATIONS:
        if name not in variants:
            continue
        bd = compare(full.curve(), variants[name].curve())
        out["ablations"][name] = bd.bd_rate
        out["ablations_bd_psnr"][name] = bd.bd_psnr
        if bd.error:
            out["errors"][name] = bd.error
        full_lod, abl_lod = full.lod_curve(), variants[name].lod_curve()
        if len(full_lod[0]) > 1 and len(abl_lod[0]) > 1:  # only when levels were scored
            lod = compare(full_lod, abl_lod)
            out["lod_ablations"][name] = lod.bd_rate
            if lod.error:
                out["errors"][f"{name} (per-level)"] = lod.error
    return out


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:{spec}}{suffix}"


def _steps_text(steps: dict) -> str:
    """ "key_steps=1500, p_steps=400"; per-model dicts (fixed-rate) shown once when identical."""
    if steps and all(isinstance(v, dict) for v in steps.values()):
        distinct = {json.dumps(v, sort_keys=True) for v in steps.values()}
        if len(distinct) == 1:
            return f"{len(steps)} models × ({_steps_text(next(iter(steps.values())))})"
        return "; ".join(f"{k}: {_steps_text(v)}" for k, v in steps.items())
    return ", ".join(f"{k}={val}" for k, val in steps.items()) or "-"


def markdown_table(variants: dict[str, VariantResult], summary: dict) -> str:
    """Headline BD figures, then every point of every variant (what docs/RESULTS.md embeds)."""
    lines = ["| comparison | BD-rate | BD-PSNR |", "| --- | ---: | ---: |"]
    lines.append(
        f"| FieldCast vs post-training H.265 | {_fmt(summary['bd_rate_vs_post_training'], '+.1f', ' %')}"
        f" | {_fmt(summary['bd_psnr_vs_post_training'], '+.2f', ' dB')} |"
    )
    lines.append(
        f"| FieldCast vs fixed-rate models | {_fmt(summary['bd_rate_vs_fixed_rate'], '+.1f', ' %')}"
        f" | {_fmt(summary['bd_psnr_vs_fixed_rate'], '+.2f', ' dB')} |"
    )
    for name, value in summary["ablations"].items():
        lines.append(
            f"| ablation {name} vs full | {_fmt(value, '+.1f', ' %')}"
            f" | {_fmt(summary['ablations_bd_psnr'].get(name), '+.2f', ' dB')} |"
        )
    if summary.get("post_training_best_gap_db") is not None:
        lines.append("")
        lines.append(
            f"Post-training baseline: unquantized field "
            f"{summary['post_training_unquantized_psnr']:.2f} dB on the test views; its best H.265 "
            f"point is {summary['post_training_best_gap_db']:.2f} dB below it."
        )
    if summary["errors"]:
        lines.append("")
        lines.extend(f"- n/a {k}: {v}" for k, v in summary["errors"].items())
    lines += [
        "",
        "| variant | point | KB/frame | PSNR test | SSIM test | PSNR train | SSIM train |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for v in variants.values():
        for p in sorted(v.points, key=lambda p: (not p.full_lod, p.bytes_per_frame)):
            lines.append(
                f"| {v.name} | {p.label}{'' if p.full_lod else ' (LOD)'} "
                f"| {p.bytes_per_frame / 1000:.2f} | {_fmt(p.psnr_test, '.2f')} "
                f"| {_fmt(p.ssim_test, '.4f')} | {_fmt(p.psnr_train, '.2f')} "
                f"| {_fmt(p.ssim_train, '.4f')} |"
            )
    lines += ["", "| variant | steps | seeds | encode s |", "| --- | --- | --- | ---: |"]
    for v in variants.values():
        steps = _steps_text(v.steps)
        seeds = ", ".join(str(s) for s in v.seeds) or "-"
        lines.append(f"| {v.name} | {steps} | {seeds} | {_fmt(v.seconds, '.0f')} |")
    return "\n".join(lines) + "\n"
