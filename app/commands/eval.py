"""`fieldcast eval DATASET -o DIR`: RD comparison against the baselines and the ablations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from codec.errors import FieldCastError

NAME = "eval"
HELP = "compare FieldCast's RD curve with the H.265 and fixed-rate baselines and the ablations"
DESCRIPTION = (
    "Encodes the dataset once per variant, renders every operating point on the test views and\n"
    "on a few train views, and compares the curves with Bjøntegaard metrics (log-rate, PCHIP).\n"
    "\n"
    "variants:\n"
    "  full                FieldCast: one jointly rate-trained model (K tracks x L levels)\n"
    "  no_joint_rate       ablation: trained without the rate term, quantized afterwards\n"
    "  post_training_h265  baseline: the no_joint_rate grids, 12-bit, tiled, libx265 per CRF\n"
    "  fixed_rate          baseline: one separately trained model per track's lambda\n"
    "  no_residual         ablation: independent frames\n"
    "  no_progressive      ablation: no progressive training schedule\n"
    "\n"
    "writes DIR/results.json (bd_rate_vs_post_training, bd_rate_vs_fixed_rate, ablations,\n"
    "every point, step counts and seeds), DIR/results.md (tables) and DIR/rd.png (RD plot).\n"
    "Everything finished is kept in DIR/work/: run the same command again after an\n"
    "interruption and it resumes (training resumes from the encoder's checkpoints).\n"
    "docs/EVALUATION.md explains the method, docs/RESULTS.md holds the figures."
)


def _crf_list(text: str) -> tuple[int, ...]:
    from codec.eval.baseline_h265 import LOSSLESS

    try:
        return tuple(
            LOSSLESS if v.strip() == "lossless" else int(v) for v in text.split(",") if v.strip()
        )
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated CRFs (integers or 'lossless'), got {text!r}"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from codec.eval.baseline_h265 import DEFAULT_CRFS, crf_label
    from codec.eval.evaluate import ALL_VARIANTS

    parser.add_argument("dataset", type=Path, help="dataset directory (transforms.json)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="evaluation directory")
    parser.add_argument(
        "--preset", default="fast",
        help="training preset of every variant (default fast, unlike `encode`: an evaluation "
             "trains up to nine models, and `default` doubles its time)",
    )
    parser.add_argument(
        "--frames", type=int, default=None, help="evaluate the first N frames (default all)"
    )
    parser.add_argument(
        "--tracks", type=int, default=4, help="rate tracks K (default 4; BD needs >= 4)"
    )
    parser.add_argument("--gof", type=int, default=None, help="GoF length (default: the encoder's)")
    parser.add_argument(
        "--key-steps", type=int, default=None,
        help="I-frame training steps of every variant (default: the preset's)",
    )  # fmt: skip
    parser.add_argument(
        "--p-steps", type=int, default=None,
        help="P-frame training steps of every variant (default: the preset's)",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0, help="training seed of every variant (default 0)"
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument(
        "--variants", default=",".join(ALL_VARIANTS),
        help=f"comma-separated subset of: {', '.join(ALL_VARIANTS)} (default all)",
    )  # fmt: skip
    parser.add_argument(
        "--crfs", type=_crf_list, default=DEFAULT_CRFS,
        help="libx265 CRFs of the H.265 baseline, 'lossless' for x265's lossless mode "
        f"(default {','.join(crf_label(c).removeprefix('crf') for c in DEFAULT_CRFS)})",
    )  # fmt: skip
    parser.add_argument(
        "--x265-preset", default="medium", help="x265 speed preset (default medium)"
    )
    parser.add_argument("--train-views", type=int, default=6,
                        help="train cameras scored besides every test camera (default 6; 0: none)")  # fmt: skip
    parser.add_argument("--downscale", type=int, default=None,
                        help="image downscale of the scored views (default: the preset's)")  # fmt: skip
    parser.add_argument("--no-lod-points", action="store_true",
                        help="score full-LOD points only (skip the per-level curve)")  # fmt: skip
    parser.add_argument("--replot", action="store_true",
                        help="only redraw rd.png and results.md from an existing results.json")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from app.eval_plot import draw_rd_plot
    from codec.eval.evaluate import EvalConfig, Evaluation, variant_results
    from codec.eval.results import markdown_table, summarize

    out: Path = args.output
    if args.replot:
        path = out / "results.json"
        if not path.is_file():
            raise FieldCastError(f"{path}: no results to replot")
        variants = variant_results(json.loads(path.read_text()))
        (out / "results.md").write_text(markdown_table(variants, summarize(variants)))
        print(f"wrote {draw_rd_plot(variants, out / 'rd.png', title=_title(args))}")
        return 0
    if not args.dataset.exists():
        raise FieldCastError(f"{args.dataset}: no such dataset")
    cfg = EvalConfig(
        preset=args.preset,
        frames=args.frames,
        tracks=args.tracks,
        gof=args.gof,
        seed=args.seed,
        device=args.device,
        variants=tuple(v.strip() for v in args.variants.split(",") if v.strip()),
        crfs=tuple(args.crfs),
        x265_preset=args.x265_preset,
        train_views=args.train_views,
        lod_points=not args.no_lod_points,
        downscale=args.downscale,
        key_steps=args.key_steps,
        p_steps=args.p_steps,
    )
    results = Evaluation(args.dataset, out, cfg).run()
    variants = variant_results(results)
    png = draw_rd_plot(variants, out / "rd.png", title=_title(args))
    print((out / "results.md").read_text().split("\n\n")[0])
    print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {png}")
    return 0


def _title(args: argparse.Namespace) -> str:
    return f"Rate–distortion, test views: {Path(args.dataset).name} (preset {args.preset})"
