"""`fieldcast encode DATASET -o clip.fcv`: train, quantize, code and write one .fcv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codec.errors import FieldCastError

NAME = "encode"
HELP = "encode a multi-view dataset into one .fcv holding K rate tracks x L levels of detail"
DESCRIPTION = (
    "Trains the hierarchical residual field GoF by GoF (I-frame + P-frame residuals), with the\n"
    "joint rate term unless --no-joint-rate, then quantizes every track in closed loop, fits the\n"
    "integer tables, range-codes every (frame, track, level) chunk, scores every operating point\n"
    "on the dataset's test views and writes the file atomically (temporary name, then rename).\n"
    "Checkpoints go to --work-dir (default OUTPUT.work/): run the same command again after an\n"
    "interruption (even SIGKILL) and it resumes, producing a byte-identical file.\n"
    "--chains FILE skips training and codes saved float chains (npz, codec/eval/chains_io)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset directory (transforms.json) or the json file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .fcv path")
    parser.add_argument(
        "--preset", default="default",
        help="training budget: default (the default; figure128's first 3 frames in ~8 min on "
             "1 CPU thread; every rate track needs <= 0.6x the bytes of --no-joint-rate at equal "
             "PSNR, docs/RESULTS.md), fast (half the steps, ~4.5 min; ~2 min per I-frame and "
             "~30 s per P-frame on 2 threads; its top rate track compresses less well), "
             "test (seconds; tests), best (GPU-sized)")
    parser.add_argument("--levels", type=int, default=None, help="levels of detail L (default: preset)")
    parser.add_argument("--tracks", type=int, default=4, help="rate tracks K, 1..8 (default 4)")
    parser.add_argument("--gof", type=int, default=10, help="GoF length in frames (default 10)")
    parser.add_argument("--frames", type=int, default=None, help="encode only the first N frames")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument("--no-joint-rate", action="store_true",
                        help="train without the rate term, quantize afterwards (ablation)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--work-dir", type=Path, default=None, help="checkpoint directory")
    parser.add_argument("--chains", type=Path, default=None, help="code saved float chains (npz)")
    parser.add_argument("--save-chains", type=Path, default=None, help="also save the float chains")
    parser.add_argument("--score-views", type=int, default=None,
                        help="test views used for the PSNR/SSIM metadata (default: all)")
    parser.add_argument("--key-steps", type=int, default=None, help="I-frame steps (default: preset)")
    parser.add_argument("--p-steps", type=int, default=None, help="P-frame steps (default: preset)")
    parser.add_argument("--downscale", type=int, default=None, help="image downscale (default: preset)")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write a JSON report: per-frame training seconds (wall, CPU), "
                        "coding and scoring seconds, file size, every operating point")


def run(args: argparse.Namespace) -> int:
    from codec.data.dataset import load_dataset
    from codec.device import pick_device
    from codec.encode.api import EncodeSettings, encode_dataset

    if not 1 <= args.tracks <= 8:
        raise FieldCastError("--tracks must be 1..8")
    if args.gof < 1:
        raise FieldCastError("--gof must be >= 1")
    if args.frames is not None and args.frames < 1:
        raise FieldCastError("--frames must be >= 1")
    if args.output.suffix != ".fcv":
        print(f"note: output {args.output} does not end in .fcv", file=sys.stderr)
    settings = EncodeSettings(
        preset=args.preset,
        levels=args.levels,
        tracks=args.tracks,
        gof=args.gof,
        frames=args.frames,
        device=args.device,
        joint_rate=not args.no_joint_rate,
        seed=args.seed,
        score_views=args.score_views,
        key_steps=args.key_steps,
        p_steps=args.p_steps,
    )
    device = pick_device(args.device)
    downscale = args.downscale
    if downscale is None and args.chains is None:
        from codec.train.config import preset

        try:
            downscale = preset(args.preset).downscale
        except ValueError as exc:
            raise FieldCastError(str(exc)) from None
    dataset = load_dataset(args.dataset, downscale=downscale or 1)
    work = args.work_dir or args.output.with_name(args.output.name + ".work")
    result = encode_dataset(
        dataset, args.output, settings, device=device, work_dir=work, chains_path=args.chains,
        save_chains=args.save_chains,
    )
    size = result.layout.data.__len__()
    print(f"wrote {args.output}: {size} bytes, {result.encoded.header.frames} frames, "
          f"{result.encoded.header.tracks} tracks x {result.encoded.header.levels} levels")
    for (r, lv), m in sorted(result.metrics.items()):
        kb = result.layout.point_bytes(r, lv) / result.encoded.header.frames / 1024
        print(f"  track {r} level {lv + 1}: {kb:8.2f} KB/frame  PSNR {m['psnr']:.2f}  SSIM {m['ssim']:.4f}")
    if args.report is not None:
        _write_report(args.report, result, settings)
    return 0


def _write_report(path: Path, result, settings) -> None:
    """The encode's figures as JSON (written atomically, like the clip)."""
    import json
    import os

    h = result.encoded.header
    report = {
        "output": str(result.path),
        "file_bytes": len(result.layout.data),
        "settings": settings.to_dict(),
        "frames": h.frames,
        "seconds": result.seconds,
        "trained_frames": result.frame_log,
        "operating_points": [
            {"track": r, "level": lv + 1,
             "bytes_per_frame": result.layout.point_bytes(r, lv) / h.frames, **m}
            for (r, lv), m in sorted(result.metrics.items())
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
