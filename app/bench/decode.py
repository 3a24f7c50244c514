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

NAME = "decode"
HELP = "decode speed (ms/frame) of every operating point of a clip, vs bare constriction"
DESCRIPTION = (
    "Decodes every frame of the clip at each (track, level) from a fresh decoder, sequentially\n"
    "(as a player does), and reports ms/frame. coder_ratio = our decode time / the time\n"
    "constriction alone needs to range-decode the same symbols with the same models."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", help="the .fcv file")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--repeat", type=int, default=1, help="passes per point (best kept)")


def _bare_decode_seconds(f: FcvFile, track: int, level: int) -> float:
    """constriction only: range-decode every symbol of the point's chunks with its models."""
    h = f.header
    jobs = []
    for g in range(h.gofs):
        frames = h.gof_frames(g)
        for lv in range(level):
            tk = ChunkKey(KIND_TABLES, g, frames[0], track, lv)
            ti, tp = unpack_tables(h, f.chunk(tk), describe(tk))
            n, m = h.density_res[lv], h.plane_res[lv]
            shapes = [(n, n, n)] + [(3, m, m)] * h.channels
            for t in frames:
                key = ChunkKey(KIND_FRAME, g, t, track, lv)
                payload = bytes(f.chunk(key))
                tables = ti if t == frames[0] else tp
                syms = coder_mod.decode_channels(payload, tables, shapes, describe(key))
                # Recreate the exact model sequence: block count, flags, symbols per channel.
                seq = []
                for table, sym, shape in zip(tables, syms, shapes):
                    flags = coder_mod.block_flags(sym)
                    nb, k = flags.size, int(flags.sum())
                    seq.append((coder_mod._uniform_model(nb + 1)[0], 1))
                    if 0 < k < nb:
                        seq.append((coder_mod._flag_model(k, nb), nb))
                    if k:
                        count = int(coder_mod.element_mask(flags, shape).sum())
                        seq.append((coder_mod._categorical(table), count))
                reader_pos = _escape_section_end(payload)
                words = np.frombuffer(payload[reader_pos:], dtype="<u4").astype(np.uint32)
                jobs.append((words, seq))
    t0 = time.perf_counter()
    for words, seq in jobs:
        dec = coder_mod._queue.RangeDecoder(words)
        for model, count in seq:
            dec.decode(model, count)
    return time.perf_counter() - t0


def _escape_section_end(payload: bytes) -> int:
    from codec.entropy.varint import ByteReader

    r = ByteReader(payload)
    for _ in range(r.uvarint()):
        r.svarint()
    return r.pos


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = read_source(args.clip)
    f = FcvFile(data)
    h = f.header
    device = pick_device(args.device)
    points = []
    for r in range(h.tracks):
        for lv in range(1, h.levels + 1):
            best = None
            for _ in range(max(1, args.repeat)):
                dec = Decoder(data, device)
                t0 = time.perf_counter()
                for t in range(h.frames):
                    dec.frame(t, r, lv)
                if device.type == "cuda":
                    import torch

                    torch.cuda.synchronize()
                total = time.perf_counter() - t0
                best = total if best is None else min(best, total)
            bare = _bare_decode_seconds(f, r, lv)
            points.append(
                {
                    "track": r,
                    "level": lv,
                    "ms_per_frame": 1000 * best / h.frames,
                    "bare_constriction_ms_per_frame": 1000 * bare / h.frames,
                    "coder_ratio": best / bare if bare > 0 else None,
                }
            )
    return {"clip": str(args.clip), "device": str(device), "frames": h.frames, "points": points}
