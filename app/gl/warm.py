"""Pre-compile a GoF's MLP program in a helper process, to fill Mesa's disk shader cache.

On llvmpipe the GoF's MLP is baked into its pass-2 program (app/gl/program.py), and the first
draw with a new GoF compiles it: ~0.3-1.4 s of CPU on the GL thread. With the program already in
Mesa's on-disk cache the same step takes ~20 ms. A player that knows the next GoF's MLP ahead
(its decoder prefetches) calls `warm_mlp_program(mlp, channels, params)`; a separate process,
with its own EGL context, never meets the player's GLX context.

Starting Python with torch costs seconds, more than a GoF lasts, so a player keeps one helper
alive for the clip: `WarmServer` runs ``python -m app.gl.warm --serve``, which reads one weights
file path per line on stdin and answers one line on stdout ("ok" or "error: ...") per request.

Run as ``python -m app.gl.warm WEIGHTS.npz`` (one-shot) or ``python -m app.gl.warm --serve``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

# numpy, torch and the renderer are imported inside the functions: the helper lowers its CPU
# priority before paying for those imports (seconds of CPU beside a playing player).
if TYPE_CHECKING:
    from codec.field.config import RenderParams
    from codec.field.grids import FrameGrids, MLPWeights


def _background_priority() -> None:
    """Run only when the CPU is otherwise idle (the player's decoding and drawing come first)."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(19)
        except OSError:
            pass


def _dummy_frame(mlp: MLPWeights, channels: int, params: RenderParams) -> FrameGrids:
    """A tiny all-occupied frame: every pass runs (so every shader variant is built)."""
    import torch

    from codec.field.grids import FrameGrids

    density = torch.full((3, 3, 3), 10.0)
    planes = torch.zeros(3, channels, 3, 3)
    aabb = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
    return FrameGrids([density], [planes], mlp, aabb, params)


def _write_weights(mlp: MLPWeights, channels: int, params: RenderParams) -> str:
    import numpy as np

    arrays = {}
    for i, (w, b) in enumerate(mlp):
        arrays[f"w{i}"] = w.detach().cpu().float().numpy()
        arrays[f"b{i}"] = b.detach().cpu().float().numpy()
    arrays["channels"] = np.array(channels)
    arrays["view_freqs"] = np.array(params.view_freqs)
    fd, path = tempfile.mkstemp(suffix=".npz", prefix="fieldcast-mlp-")
    os.close(fd)
    np.savez(path, **arrays)
    return path


def _child_env(env: dict[str, str] | None) -> dict[str, str]:
    root = Path(__file__).resolve().parents[2]
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), child_env.get("PYTHONPATH")]))
    return child_env


class WarmServer:
    """One long-lived helper process; `warm` blocks the calling thread (never the GUI's) until
    the helper has compiled the MLP's program. Raises RuntimeError when the helper failed."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.gl.warm", "--serve"],
            env=_child_env(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def warm(self, mlp: MLPWeights, channels: int, params: RenderParams) -> None:
        path = _write_weights(mlp, channels, params)
        try:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(path + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise RuntimeError(f"warm helper is gone (exit code {self.proc.poll()})") from None
            reply = self.proc.stdout.readline().strip()
        finally:
            Path(path).unlink(missing_ok=True)  # the helper removes it too; whoever is first
        if not reply:
            raise RuntimeError(f"warm helper exited (code {self.proc.poll()})")
        if reply != "ok":
            raise RuntimeError(reply)

    def cancel(self) -> None:
        """Stop the helper without waiting; a `warm` in progress raises RuntimeError."""
        if self.proc.poll() is None:
            self.proc.terminate()

    def close(self) -> None:
        """End the helper (closing stdin asks it to stop; terminate/kill if it does not)."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=2)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def warm_mlp_program(
    mlp: MLPWeights, channels: int, params: RenderParams, *, wait: bool = False, env=None
) -> subprocess.Popen:
    """Start (or with wait=True run) a one-shot helper process; returns it. Errors only cost
    speed. A player should prefer `WarmServer` (no interpreter start per GoF)."""
    path = _write_weights(mlp, channels, params)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.gl.warm", path],
        env=_child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    if wait:
        proc.wait()
    return proc


def _load(path: Path) -> tuple[MLPWeights, int, RenderParams]:
    import numpy as np
    import torch

    from codec.field.config import RenderParams

    try:
        with np.load(path, allow_pickle=False) as data:
            layers = sum(1 for k in data.files if k.startswith("w"))
            mlp = [(torch.from_numpy(data[f"w{i}"]), torch.from_numpy(data[f"b{i}"]))
                   for i in range(layers)]
            channels = int(data["channels"])
            params = RenderParams(view_freqs=int(data["view_freqs"]))
    finally:
        path.unlink(missing_ok=True)
    return mlp, channels, params


def _draw(renderer, mlp: MLPWeights, channels: int, params: RenderParams) -> None:
    from codec.data.cameras import orbit_camera

    # A real draw, not only a link: llvmpipe compiles the shader variant for the draw state.
    cam = orbit_camera(0.0, 0.0, 3.0, width=8, height=8)
    renderer.render(_dummy_frame(mlp, channels, params), cam, (1.0, 1.0, 1.0))


def _serve() -> int:
    _background_priority()
    from .headless import HeadlessRenderer

    renderer = HeadlessRenderer()
    try:
        for line in sys.stdin:
            path = line.strip()
            if not path:
                continue
            try:
                _draw(renderer, *_load(Path(path)))
                reply = "ok"
            except Exception as exc:  # noqa: BLE001 - one bad request must not end the helper
                reply = f"error: {type(exc).__name__}: {exc}".replace("\n", " ")
            print(reply, flush=True)
    finally:
        renderer.release()
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--serve"]:
        return _serve()
    from .headless import HeadlessRenderer

    renderer = HeadlessRenderer()
    try:
        _draw(renderer, *_load(Path(argv[0])))
    finally:
        renderer.release()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
