"""`fieldcast bench codec`: coded bytes against the ideal code length, entropy and table bytes."""

from __future__ import annotations

import argparse
import time
from typing import Any

from codec.container.reader import FcvFile, read_source
from codec.encode.analysis import analyze
from codec.encode.quantized import encode_clip
from codec.encode.synthetic import synthetic_chains, synthetic_header
from codec.field.config import FieldConfig

NAME = "codec"
HELP = "entropy-coding efficiency: coded bytes vs ideal code length, entropy, table bytes"
DESCRIPTION = (
    "With --clip, analyses an existing .fcv: decodes every frame chunk, re-encodes it with the\n"
    "file's own tables and reports the gap between the coded bytes and the ideal code length\n"
    "under those tables (the coder's overhead), the gap to the empirical entropy of the coded\n"
    "symbols (what the fitted tables and the block flags cost), the table bytes, the frame\n"
    "chunks' bytes per track and per (frame, track), and the training's rate estimate over them.\n"
    "Without --clip, it encodes synthetic smooth chains at the default field shape."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clip", help="an existing .fcv file to analyse")
    parser.add_argument("--frames", type=int, default=10, help="synthetic: frames (default 10)")
    parser.add_argument("--tracks", type=int, default=4, help="synthetic: tracks (default 4)")
    parser.add_argument("--gof", type=int, default=10, help="synthetic: GoF length (default 10)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.clip:
        data = read_source(args.clip)
        t0 = time.perf_counter()
        f = FcvFile(data)
        result = {"source": str(args.clip), "file_bytes": len(data), **analyze(f)}
        result["seconds"] = time.perf_counter() - t0
        return result
    cfg = FieldConfig()
    header = synthetic_header(cfg, args.frames, args.gof, args.tracks)
    chains = synthetic_chains(header, seed=0)
    t0 = time.perf_counter()
    enc = encode_clip(header, chains)
    encode_s = time.perf_counter() - t0
    layout = enc.build()
    return {
        "source": "synthetic",
        "field": {"density_res": cfg.density_res, "plane_res": cfg.plane_res, "channels": cfg.channels},
        "frames": args.frames,
        "tracks": args.tracks,
        "file_bytes": len(layout.data),
        "encode_seconds": encode_s,
        **enc.stats.to_dict(),
        "bytes_per_frame": {
            f"t{r}l{lv + 1}": layout.point_bytes(r, lv) / header.frames
            for r in range(header.tracks)
            for lv in range(header.levels)
        },
    }
