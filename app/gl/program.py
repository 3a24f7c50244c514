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


def mlp_inputs_glsl(layout: MlpLayout) -> str:
    """GLSL that builds the MLP input x0 from the accumulated features and the view code."""
    c4 = layout.c4
    in4 = layout.in4
    lines = [f"vec4 x0[{in4[0]}];"]
    for i in range(3 * c4):
        lines.append(f"x0[{i}] = texelFetch(u_features[{i}], pix_i, 0);")
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

    return inputs


def _unrolled_body(layout: MlpLayout) -> list[str]:
    """Straight-line MLP with constant weight indices (for weights baked as constants)."""
    body = []
    n_layers = len(layout.widths)
    for li, ((w_off, b_off), width) in enumerate(zip(layout.offsets(), layout.widths)):
        in4, out4 = layout.in4[li], _ceil4(width)
        src, dst = f"x{li}", f"x{li + 1}"
        body.append(f"vec4 {dst}[{out4}];")
        for o in range(out4):
            comps = []
            for j in range(4):
                row = w_off + (4 * o + j) * in4
                comps.append(" + ".join(f"dot(W[{row + i}], {src}[{i}])" for i in range(in4)))
            pre = f"W[{b_off + o}] + vec4(\n        " + ",\n        ".join(comps) + ")"
            last = li == n_layers - 1
            act = f"1.0 / (1.0 + exp(-({pre})))" if last else f"max({pre}, vec4(0.0))"
            body.append(f"{dst}[{o}] = {act};")
    return body


def _looped_body(layout: MlpLayout) -> list[str]:
    """Compact MLP with loops over a weight buffer (small program, fast on real GPUs)."""
    body = []
    n_layers = len(layout.widths)
    for li, ((w_off, b_off), width) in enumerate(zip(layout.offsets(), layout.widths)):
        in4, out4 = layout.in4[li], _ceil4(width)
        src, dst = f"x{li}", f"x{li + 1}"
        act = "1.0 / (1.0 + exp(-s))" if li == n_layers - 1 else "max(s, vec4(0.0))"
        body += [
            f"vec4 {dst}[{out4}];",
            f"for (int o = 0; o < {out4}; ++o) {{",
            f"    vec4 s = W[{b_off} + o];",
            "    for (int j = 0; j < 4; ++j) {",
            f"        int row = {w_off} + (4 * o + j) * {in4};",
            "        float dot_sum = 0.0;",
            f"        for (int i = 0; i < {in4}; ++i) dot_sum += dot(W[row + i], {src}[i]);",
            "        s[j] += dot_sum;",
            "    }",
            f"    {dst}[o] = {act};",
            "}",
        ]
    return body


def _vec4_literals(packed: np.ndarray) -> str:
    # repr of a float32 widened to float64 round-trips, so GLSL parses the exact float32 back.
    return ",\n    ".join(
        "vec4(" + ", ".join(repr(float(v)) for v in row) + ")" for row in packed.reshape(-1, 4)
    )


WEIGHT_MODES = ("constants", "buffer")
"""How the shader gets the MLP: baked constants (one program per GoF; the only fast way on
llvmpipe, whose buffer/texture loads with uniform addresses cost a branch or a gather each) or
a storage buffer (one program per shape; what real GPUs like)."""


def field_fragment_source(hw_filter: bool, c4: int) -> str:
    """Pass 1: the ray marcher writing normalized features, alpha and depth."""
    header, rest = shader_source("field.frag").split("\n", 1)
    defines = f"#define C4 {c4}\n#define N_FEATURES {3 * c4}\n#define HW_FILTER {int(hw_filter)}\n"
    return f"{header}\n{defines}{rest}"


def mlp_fragment_source(layout: MlpLayout, packed_weights: np.ndarray | None = None) -> str:
    """Pass 2: the MLP; weights baked in as constants when `packed_weights` is given."""
    header, rest = shader_source("mlp.frag").split("\n", 1)
    if packed_weights is not None:
        n4 = len(packed_weights) // 4
        decl = f"const vec4 W[{n4}] = vec4[](\n    {_vec4_literals(packed_weights)});"
        body = _unrolled_body(layout)
    else:
        decl = "layout(std430, binding = 0) readonly buffer MlpWeights { vec4 W[]; };"
        body = _looped_body(layout)
    body.append(f"vec3 color = x{len(layout.widths)}[0].xyz;")
    rest = (
        rest.replace("@MLP_WEIGHTS@", decl)
        .replace("@MLP_INPUTS@", mlp_inputs_glsl(layout))
        .replace("@MLP_BODY@", "\n    ".join(body))
    )
    return f"{header}\n#define C4 {layout.c4}\n{rest}"
