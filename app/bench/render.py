"""`fieldcast bench render [CLIP]`: GLSL vs torch ms/frame per LOD at 256² and 512²."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

NAME = "render"
HELP = "renderer speed: GLSL (moderngl) vs torch ms/frame per LOD and image size"
DESCRIPTION = (
    "Renders one frame per LOD from an orbit camera around the clip's box at each size, with\n"
    "the GLSL renderer (upload excluded, reported apart) and the torch renderer (no grad,\n"
    "occupancy on, same samples), both on --threads CPU threads (LP_NUM_THREADS for llvmpipe).\n"
    "psnr_rgb_db / psnr_alpha_db: GLSL vs torch where the torch alpha > 0.01.\n"
    "glsl_ms is wall time (median of --repeat); glsl_cpu_ms is process CPU time / threads,\n"
    "the wall time an otherwise idle machine would show. speedup = torch_ms / glsl_ms.\n"
    "Without CLIP (or with --synthetic): synthetic grids of the default FieldConfig with an\n"
    "object covering ~10-20% of the box."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("clip", nargs="?", help="a .fcv clip (default: synthetic grids)")
    parser.add_argument("--synthetic", action="store_true", help="use synthetic grids")
    parser.add_argument("--frame", type=int, default=0, help="clip frame to render (default 0)")
    parser.add_argument("--track", type=int, default=None, help="rate track (default: highest)")
    parser.add_argument("--sizes", default="256,512", help="square image sizes (default 256,512)")
    parser.add_argument("--lods", default=None, help="comma-separated LODs (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="GLSL renders per point (median)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for both renderers")
    parser.add_argument("--no-torch", action="store_true", help="skip the (slow) torch renders")
    parser.add_argument("--scale", type=float, default=1.0, help="GLSL render scale (governor)")


def _source(args: argparse.Namespace):
    """(name, callable lod -> FrameGrids, levels, background)."""
    if args.clip and not args.synthetic:
        from codec.decode import Decoder

        dec = Decoder(args.clip, "cpu")
        h = dec.header
        track = h.tracks - 1 if args.track is None else args.track
        return (
            str(args.clip),
            lambda lod: dec.frame(args.frame, track, lod),
            h.levels,
            tuple(h.background),
        )
    from app.gl.synthetic import synthetic_frame
    from codec.field.config import FieldConfig

    cfg = FieldConfig()
    full = synthetic_frame(cfg, args.frame)
    return "synthetic", full.at_lod, cfg.levels, (1.0, 1.0, 1.0)


def _camera(aabb: np.ndarray, size: int):
    from codec.data.cameras import orbit_camera

    centre = (aabb[0] + aabb[1]) / 2
    radius = float(np.linalg.norm(aabb[1] - aabb[0])) * 0.9
    return orbit_camera(30.0, 15.0, radius, target=tuple(centre), fov_deg=40.0, width=size, height=size)


def _agreement(gl_img: np.ndarray, out, size: int) -> dict[str, float]:
    """PSNR (dB) of the GLSL image vs torch over pixels where the torch alpha > 0.01."""
    ref_rgb = out.rgb.reshape(size, size, 3).numpy()
    ref_a = out.alpha.reshape(size, size).numpy()
    mask = ref_a > 0.01
    if not mask.any():
        return {}

    def psnr(a: np.ndarray, b: np.ndarray) -> float:
        mse = float(np.mean((a.astype(np.float64) - b) ** 2))
        return round(10 * np.log10(1 / mse), 1) if mse > 0 else float("inf")

    return {
        "psnr_rgb_db": psnr(gl_img[..., :3][mask], ref_rgb[mask]),
        "psnr_alpha_db": psnr(gl_img[..., 3][mask], ref_a[mask]),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["LP_NUM_THREADS"] = str(args.threads)  # read when the GL context is created
    import torch

    from app.gl.headless import HeadlessRenderer
    from codec.render.torch_renderer import render_frame

    torch.set_num_threads(args.threads)
    name, grids_at, levels, background = _source(args)
    lods = [int(v) for v in args.lods.split(",")] if args.lods else list(range(1, levels + 1))
    sizes = [int(v) for v in args.sizes.split(",")]
    headless = HeadlessRenderer()
    renderer, ctx = headless.renderer, headless.ctx
    results, summary = [], {}
    try:
        for lod in lods:
            grids = grids_at(lod)
            grids.composed()
            aabb = grids.aabb.detach().cpu().numpy()
            with ctx:
                start = time.perf_counter()
                renderer.set_frame(grids, key=("bench", lod))
                first_ms = (time.perf_counter() - start) * 1e3
                upload_ms = renderer.timing.upload_ms
                renderer.set_frame(grids, key=None)  # pure re-upload, no compile
                upload_ms = renderer.timing.upload_ms
            for size in sizes:
                cam = _camera(aabb, size)
                with ctx:
                    fbo = headless._fbo(size, size)
                    renderer.render(cam, background, fbo, scale=args.scale)
                    ctx.finish()
                    walls, cpus = [], []
                    for _ in range(args.repeat):
                        w0, c0 = time.perf_counter(), time.process_time()
                        renderer.render(cam, background, fbo, scale=args.scale)
                        ctx.finish()
                        walls.append(time.perf_counter() - w0)
                        cpus.append(time.process_time() - c0)
                glsl_ms = statistics.median(walls) * 1e3
                glsl_cpu_ms = statistics.median(cpus) * 1e3 / args.threads
                row: dict[str, Any] = {
                    "size": size,
                    "lod": lod,
                    "glsl_ms": round(glsl_ms, 2),
                    "glsl_fps": round(1e3 / glsl_ms, 1),
                    "glsl_cpu_ms": round(glsl_cpu_ms, 2),
                    "glsl_min_ms": round(min(walls) * 1e3, 2),
                    "upload_ms": round(upload_ms, 2),
                    "first_frame_ms": round(first_ms, 1),
                    "occupied_fraction": round(
                        renderer.resources.stats.extra.get("occupied_fraction", float("nan")), 4
                    ),
                }
                if not args.no_torch:
                    with ctx:
                        raw = fbo.read(components=4, dtype="f4")
                    gl_img = np.frombuffer(raw, np.float32).reshape(size, size, 4)[::-1]
                    origins, dirs = cam.rays()
                    bg = torch.tensor(background, dtype=torch.float32)
                    w0, c0 = time.perf_counter(), time.process_time()
                    out = render_frame(grids, origins, dirs, bg)
                    torch_ms = (time.perf_counter() - w0) * 1e3
                    torch_cpu_ms = (time.process_time() - c0) * 1e3 / args.threads
                    row.update(
                        torch_ms=round(torch_ms, 1),
                        torch_cpu_ms=round(torch_cpu_ms, 1),
                        speedup=round(torch_ms / glsl_ms, 1),
                        speedup_cpu=round(torch_cpu_ms / glsl_cpu_ms, 1),
                        samples=int(out.samples),
                        **_agreement(gl_img, out, size),
                    )
                results.append(row)
                summary[f"glsl_ms {size}px L{lod}"] = row["glsl_ms"]
                if "speedup" in row:
                    summary[f"speedup {size}px L{lod}"] = row["speedup"]
    finally:
        renderer_name = str(ctx.info.get("GL_RENDERER", "?"))
        headless.release()
    return {
        "source": name,
        "gl_renderer": renderer_name,
        "threads": args.threads,
        "render_scale": args.scale,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        **summary,
        "results": results,
    }
