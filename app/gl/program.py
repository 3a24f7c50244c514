"""GLSL program assembly: shader sources from shaders/, the generated MLP code, packed weights.

The MLP is unrolled for the clip's layer sizes (known once per clip), so its loops have constant
bounds and the compiler keeps activations in registers. Weights live in a storage buffer as vec4
rows (llvmpipe caps a uniform block at 64 KiB), padded so every dot product is a vec4 one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codec.field.grids import MLPWeights

SHADER_DIR = Path(__file__).resolve().parents[2] / "shaders"


def shader_source(name: str) -> str:
    return (SHADER_DIR / name).read_text()


def _ceil4(n: int) -> int:
    return (n + 3) // 4


@dataclass(frozen=True)
class MlpLayout:
    """Shape of the per-clip MLP as the shader sees it (all widths padded to vec4)."""

    channels: int
    view_freqs: int
    widths: tuple[int, ...]
    """Output width of every layer, the last one is 3 (RGB)."""

    @property
    def c4(self) -> int:
        return _ceil4(self.channels)

    @property
    def view_dim(self) -> int:
        return 3 + 6 * self.view_freqs

    @property
    def in4(self) -> tuple[int, ...]:
        """vec4s of input per layer."""
        first = 3 * self.c4 + _ceil4(self.view_dim)
        return (first, *(_ceil4(w) for w in self.widths[:-1]))

    @staticmethod
    def of(weights: MLPWeights, channels: int, view_freqs: int) -> MlpLayout:
        widths = tuple(int(w.shape[0]) for w, _ in weights)
        expected_in = 3 * channels + 3 + 6 * view_freqs
        if int(weights[0][0].shape[1]) != expected_in or widths[-1] != 3:
            raise ValueError(
                f"MLP shape {[tuple(w.shape) for w, _ in weights]} does not fit "
                f"C={channels}, view_freqs={view_freqs}"
            )
        return MlpLayout(channels, view_freqs, widths)

    def offsets(self) -> list[tuple[int, int]]:
        """(weight offset, bias offset) in vec4 units per layer."""
        out, pos = [], 0
        for in4, width in zip(self.in4, self.widths):
            rows = 4 * _ceil4(width)
            out.append((pos, pos + rows * in4))
            pos += rows * in4 + _ceil4(width)
        return out

    def first_layer_columns(self) -> np.ndarray:
        """Padded input slot of each logical input of layer 1 (features, then view code)."""
        c, c4 = self.channels, self.c4
        feat = [p * 4 * c4 + ch for p in range(3) for ch in range(c)]
        view = [12 * c4 + v for v in range(self.view_dim)]
        return np.array(feat + view)


def pack_mlp(weights: MLPWeights, layout: MlpLayout) -> np.ndarray:
    """Float32 array of vec4s in the order `offsets()` describes."""
    chunks = []
    for li, ((w, b), in4) in enumerate(zip(weights, layout.in4)):
        w_np = w.detach().cpu().numpy().astype(np.float32)
        out = w_np.shape[0]
        rows = 4 * _ceil4(out)
        padded = np.zeros((rows, 4 * in4), np.float32)
        cols = layout.first_layer_columns() if li == 0 else np.arange(w_np.shape[1])
        padded[:out, cols] = w_np
        bias = np.zeros(rows, np.float32)
        bias[:out] = b.detach().cpu().numpy()
        chunks += [padded.ravel(), bias]
    return np.concatenate(chunks)


def mlp_glsl(layout: MlpLayout) -> tuple[str, str]:
    """(MLP_INPUTS, MLP_BODY): GLSL that builds the MLP input and leaves `vec3 color`."""
    c4 = layout.c4
    in4 = layout.in4
    lines = [f"vec4 x0[{in4[0]}];"]
    lines.append(f"for (int i = 0; i < {3 * c4}; ++i) x0[i] = acc[i] * norm;")
    for i in range(3 * c4, in4[0]):
        lines.append(f"x0[{i}] = vec4(0.0);")
    view = ["d.x", "d.y", "d.z"]
    for f in range(layout.view_freqs):
        s = float(2**f)
        view += [f"sin({s:.1f} * d.{a})" for a in "xyz"]
        view += [f"cos({s:.1f} * d.{a})" for a in "xyz"]
    for v, expr in enumerate(view):
        slot = 12 * c4 + v
        lines.append(f"x0[{slot // 4}][{slot % 4}] = {expr};")
    inputs = "\n    ".join(lines)

    body = []
    n_layers = len(layout.widths)
    for li, ((w_off, b_off), width) in enumerate(zip(layout.offsets(), layout.widths)):
        out4 = _ceil4(width)
        src, dst = f"x{li}", f"x{li + 1}"
        last = li == n_layers - 1
        body.append(f"vec4 {dst}[{out4}];")
        # Fully unrolled with constant indices: llvmpipe then loads every weight once per
        # SIMD batch instead of gathering it per pixel (a loop here was 50x slower).
        for o in range(out4):
            comps = []
            for j in range(4):
                row = w_off + (4 * o + j) * in4[li]
                comps.append(" + ".join(f"dot(W[{row + i}], {src}[{i}])" for i in range(in4[li])))
            pre = f"W[{b_off + o}] + vec4(\n        " + ",\n        ".join(comps) + ")"
            act = f"1.0 / (1.0 + exp(-({pre})))" if last else f"max({pre}, vec4(0.0))"
            body.append(f"{dst}[{o}] = {act};")
    body.append(f"vec3 color = x{n_layers}[0].xyz;")
    return inputs, "\n    ".join(body)


def field_fragment_source(layout: MlpLayout, hw_filter: bool) -> str:
    src = shader_source("field.frag")
    inputs, body = mlp_glsl(layout)
    header, rest = src.split("\n", 1)
    defines = f"#define C4 {layout.c4}\n#define HW_FILTER {int(hw_filter)}\n"
    rest = rest.replace("@MLP_INPUTS@", inputs).replace("@MLP_BODY@", body)
    return f"{header}\n{defines}{rest}"
