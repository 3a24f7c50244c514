"""The GoF's deferred colour MLP and the view-direction encoding."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .grids import MLPWeights


def encode_view(dirs: torch.Tensor, freqs: int) -> torch.Tensor:
    """ω(d) = [d, sin(2^f d), cos(2^f d) for f < freqs] for unit directions (R, 3)."""
    parts = [dirs]
    for f in range(freqs):
        scaled = dirs * float(2**f)
        parts += [torch.sin(scaled), torch.cos(scaled)]
    return torch.cat(parts, dim=-1)


def apply_mlp(weights: MLPWeights, x: torch.Tensor) -> torch.Tensor:
    """ReLU hidden layers, sigmoid output: RGB in (0, 1)."""
    for i, (w, b) in enumerate(weights):
        x = F.linear(x, w, b)
        x = torch.relu(x) if i < len(weights) - 1 else torch.sigmoid(x)
    return x


def stored_mlp(weights: MLPWeights) -> MLPWeights:
    """The weights as a .fcv stores them (IEEE half precision, docs/FORMAT.md §5.1), back in
    the input's dtype: the encoder renders its P-frames with exactly what the decoder reads."""
    return [(w.detach().half().to(w.dtype), b.detach().half().to(b.dtype)) for w, b in weights]


def init_mlp(in_dim: int, hidden: tuple[int, ...], generator: torch.Generator) -> MLPWeights:
    """Kaiming-uniform initial weights (as nn.Linear does), from a seeded generator."""
    dims = [in_dim, *hidden, 3]
    weights: MLPWeights = []
    for fan_in, fan_out in zip(dims, dims[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        w = (torch.rand(fan_out, fan_in, generator=generator) * 2 - 1) * bound
        b = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
        weights.append((w, b))
    return weights
