"""`fieldcast bench decode CLIP`: decode time per operating point and the coder's share."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from codec.container.chunks import unpack_tables
from codec.container.format import KIND_FRAME, KIND_TABLES, ChunkKey
from codec.container.reader import FcvFile, describe, read_source
from codec.decode import Decoder
from codec.device import pick_device
from codec.entropy import coder as coder_mod
from codec.entropy.varint import ByteReader

NAME = "decode"
HELP = "decode speed (ms/frame) of every operating point of a clip, vs bare constriction"
DESCRIPTION = (
    "Decodes every frame of the clip at each (track, level) with a fresh decoder,\n"
    "sequentially (as a player does), and reports ms/frame. coder_ratio = our decode time /\n"
    "the time constriction alone needs to range-decode the same symbols with the same models.\n"
    "\n"
    "ours: Decoder.frame(t, track, level) for t = 0..T-1 on a Decoder opened before the clock\n"
    "  starts (file prefix and index parsed), so the timing covers chunk CRCs, tables parsing\n"
    "  and model building (once per GoF and level), range decoding, escapes, zero-block\n"
    "  expansion, the integer state and the dequantized grids on the device.\n"
    "bare: for every frame chunk of levels 1..level, RangeDecoder(words) and the same\n"
    "  sequence of decode(model, count) calls, with the words already extracted and every\n"
    "  model already built (the coder's floor).\n"
    "Both sides run --repeat times, interleaved, and keep their best pass."
)
SIDES = {
    "ours": "fresh Decoder (opened untimed) -> frame(t, track, level) for every t; includes chunk "
    "CRCs, tables parsing and model building, range decoding, escapes, block expansion, the "
    "int32 state and the float32 grids on the device",
    "bare": "per frame chunk of levels 1..level: constriction RangeDecoder(words) + the same "
    "decode(model, count) calls; words extracted and models built before the clock starts",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="the .fcv file")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--repeat", type=int, default=5, help="passes per point and side (best kept; default 5)"
    )


Job = tuple[np.ndarray, list[tuple[object, int | None]]]


def _bare_jobs(f: FcvFile, track: int, level: int) -> list[Job]:
    """Per frame chunk of levels 1..level: its coded words and the exact (model, count) calls
    that range-decode it, recovered by decoding it once (untimed)."""
    h = f.header
    jobs: list[Job] = []
    for g in range(h.gofs):
        frames = h.gof_frames(g)
        for lv in range(level):
            tk = ChunkKey(KIND_TABLES, g, frames[0], track, lv)
            ti, tp = unpack_tables(h, f.chunk(tk), describe(tk))
            n, m = h.density_res[lv], h.plane_res[lv]
            shapes = [(n, n, n)] + [(3, m, m)] * h.channels
            plans_i, plans_p = coder_mod.plan_channels(ti, shapes), coder_mod.plan_channels(tp, shapes)
            for t in frames:
                key = ChunkKey(KIND_FRAME, g, t, track, lv)
                payload = bytes(f.chunk(key))
                plans = plans_i if t == frames[0] else plans_p
                syms = [np.zeros(p.shape, dtype=np.int32) for p in plans]
                coder_mod.decode_into(payload, plans, syms, describe(key), add=False)
                calls: list[tuple[object, int | None]] = []
                for plan, sym in zip(plans, syms):
                    flags = coder_mod.block_flags(sym)
                    nb, k = flags.size, int(flags.sum())
                    calls.append((plan.count_model, None))  # one symbol: decode(model)
                    if 0 < k < nb:
                        calls.append((coder_mod._flag_model(k, nb), nb))
                    if k:
                        count = int(coder_mod.element_mask(flags, plan.shape).sum())
                        calls.append((plan.symbol_model, count))
                r = ByteReader(payload)
                r.svarints(r.uvarint())
                words = np.frombuffer(payload[r.pos :], dtype="<u4").astype(np.uint32)
                jobs.append((words, calls))
    return jobs


def _time_bare(jobs: list[Job]) -> float:
    t0 = time.perf_counter()
    for words, calls in jobs:
        dec = coder_mod._queue.RangeDecoder(words)
        for model, count in calls:
            if count is None:
                dec.decode(model)
            else:
                dec.decode(model, count)
    return time.perf_counter() - t0


def _time_ours(data: bytes, device: Any, track: int, level: int) -> float:
    dec = Decoder(data, device)
    t0 = time.perf_counter()
    for t in range(dec.frames):
        dec.frame(t, track, level)
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = read_source(args.clip)
    f = FcvFile(data)
    h = f.header
    device = pick_device(args.device)
    repeat = max(1, args.repeat)
    points = []
    for r in range(h.tracks):
        for lv in range(1, h.levels + 1):
            jobs = _bare_jobs(f, r, lv)
            ours, bare = [], []
            for _ in range(repeat):  # interleaved: both sides see the same machine load
                ours.append(_time_ours(data, device, r, lv))
                bare.append(_time_bare(jobs))
            best, best_bare = min(ours), min(bare)
            points.append(
                {
                    "track": r,
                    "level": lv,
                    "ms_per_frame": 1000 * best / h.frames,
                    "bare_constriction_ms_per_frame": 1000 * best_bare / h.frames,
                    "coder_ratio": best / best_bare if best_bare > 0 else None,
                }
            )
    # Full quality: all levels of the track with the most coded bytes (the finest steps).
    track_bytes = [
        sum(e.length for k, e in f.index.items() if k.kind == KIND_FRAME and k.track == r)
        for r in range(h.tracks)
    ]
    top = int(np.argmax(track_bytes))
    full = next(p for p in points if p["track"] == top and p["level"] == h.levels)
    return {
        "clip": str(args.clip),
        "device": str(device),
        "frames": h.frames,
        "repeat": repeat,
        "timed": SIDES,
        "full_quality": {
            "track": top,
            "level": h.levels,
            "ms_per_frame": full["ms_per_frame"],
            "coder_ratio": full["coder_ratio"],
        },
        "points": points,
    }
