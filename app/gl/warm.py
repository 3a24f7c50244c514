"""Pre-compile a GoF's MLP program in a helper process, to fill Mesa's disk shader cache.

On llvmpipe the GoF's MLP is baked into its pass-2 program (app/gl/program.py), and the first
draw with a new GoF compiles it: ~0.3-1.4 s of CPU on the GL thread. With the program already in
Mesa's on-disk cache the same step takes ~20 ms. A player that knows the next GoF's MLP ahead
(its decoder prefetches) calls `warm_mlp_program(mlp, channels, params)`; a separate process,
with its own EGL context, never meets the player's GLX context.

Run as ``python -m app.gl.warm WEIGHTS.npz``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from codec.field.config import RenderParams
from codec.field.grids import FrameGrids, MLPWeights


def _dummy_frame(mlp: MLPWeights, channels: int, params: RenderParams) -> FrameGrids:
    """A tiny all-occupied frame: every pass runs (so every shader variant is built)."""
    density = torch.full((3, 3, 3), 10.0)
    planes = torch.zeros(3, channels, 3, 3)
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    return FrameGrids([density], [planes], mlp, aabb, params)


def warm_mlp_program(
    mlp: MLPWeights, channels: int, params: RenderParams, *, wait: bool = False, env=None
) -> subprocess.Popen:
    """Start (or with wait=True run) the helper process; returns it. Errors only cost speed."""
    arrays = {}
    for i, (w, b) in enumerate(mlp):
        arrays[f"w{i}"] = w.detach().cpu().float().numpy()
        arrays[f"b{i}"] = b.detach().cpu().float().numpy()
    arrays["channels"] = np.array(channels)
    arrays["view_freqs"] = np.array(params.view_freqs)
    fd, path = tempfile.mkstemp(suffix=".npz", prefix="fieldcast-mlp-")
    os.close(fd)
    np.savez(path, **arrays)
    root = Path(__file__).resolve().parents[2]
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), child_env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.gl.warm", path],
        env=child_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if wait:
        proc.wait()
    return proc


def main(argv: list[str]) -> int:
    from codec.data.cameras import orbit_camera

    from .headless import HeadlessRenderer

    path = Path(argv[0])
    try:
        with np.load(path, allow_pickle=False) as data:
            layers = sum(1 for k in data.files if k.startswith("w"))
            mlp = [(torch.from_numpy(data[f"w{i}"]), torch.from_numpy(data[f"b{i}"]))
                   for i in range(layers)]
            channels = int(data["channels"])
            params = RenderParams(view_freqs=int(data["view_freqs"]))
    finally:
        path.unlink(missing_ok=True)
    renderer = HeadlessRenderer()
    try:
        cam = orbit_camera(0.0, 0.0, 3.0, width=8, height=8)
        renderer.render(_dummy_frame(mlp, channels, params), cam, (1.0, 1.0, 1.0))
    finally:
        renderer.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
