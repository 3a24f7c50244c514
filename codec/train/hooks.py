"""The seam where the codec (issue 4) plugs rate into training. Default: no hook, float chain.

A `RateHook` sees every delta the renderer uses (I-frame grids and P-frame residuals, per level
and per kind) and may replace it with what the decoder will reconstruct (uniform noise or
straight-through rounding with a per-(level, channel) step), and it adds a loss term (rate in
bits from its entropy model + λ·feature distortion). Its own parameters (entropy model, gains)
are optimized with the frame's tensors.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class RateHook(Protocol):
    def begin_frame(self, frame_index: int, is_key: bool) -> None:
        """Called before a frame's first step (e.g. freeze steps after the I-frame)."""

    def simulate(self, kind: str, level: int, delta: torch.Tensor) -> torch.Tensor:
        """Differentiable stand-in for quantization of `delta` ('density' | 'planes', level)."""

    def loss(self, deltas: dict[tuple[str, int], torch.Tensor], step_fraction: float) -> torch.Tensor:
        """Rate (+ feature distortion) term added to the photometric loss; a 0-dim tensor."""

    def parameters(self) -> list[torch.Tensor]:
        """Tensors the hook wants optimized alongside the frame (may be empty)."""


class NoRate:
    """The default: float training, no simulation, no rate term."""

    def begin_frame(self, frame_index: int, is_key: bool) -> None:
        pass

    def simulate(self, kind: str, level: int, delta: torch.Tensor) -> torch.Tensor:
        return delta

    def loss(self, deltas, step_fraction: float) -> torch.Tensor:
        return torch.zeros(())

    def parameters(self) -> list[torch.Tensor]:
        return []
