"""Closed-loop quantization: one float chain F_t, K integer chains Q_t (one per rate track).

Track r with step s codes the symbols ``q_t = round(F_t / s) - Q_{t-1}`` and keeps
``Q_t = Q_{t-1} + q_t`` as int32 (``Q_0 = 0`` before the I-frame, so the I-frame codes
``round(F_1 / s)``). Encoder and decoder both output ``s * Q_t`` computed by `dequantize`: an
int32 -> float32 conversion (exact below 2^24) and one float32 multiply, which is correctly
rounded IEEE arithmetic on every device, so decodes are bit-identical on CPU and CUDA.
Since ``Q_t = round(F_t / s)``, ``|s * Q_t - F_t| <= s / 2`` at every frame: nothing drifts.

Symbol channels: channel 0 is the density grid; channel 1 + c is feature channel c of all
three planes (the planes xy, xz, yz share one step and one table per channel c).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def symbol_channels(channels: int) -> int:
    """Number of coded channels of a level: the density plus one per feature channel."""
    return 1 + channels


def split_channels(density: torch.Tensor, planes: torch.Tensor) -> list[torch.Tensor]:
    """[density (n,n,n), planes[:, 0] (3,m,m), planes[:, 1], ...]: one tensor per symbol channel."""
    return [density] + [planes[:, c] for c in range(planes.shape[1])]


def dequantize(q_total: torch.Tensor, step: torch.Tensor | float) -> torch.Tensor:
    """s * Q as float32, the one formula encoder and decoder share."""
    s = torch.as_tensor(step, dtype=torch.float32, device=q_total.device)
    return q_total.to(torch.float32) * s


def quantize_frame(
    value: torch.Tensor, step: float, q_prev: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(symbols q_t, new integer state Q_t) for one grid of one channel.

    ``value`` is the float chain F_t (any shape); ``q_prev`` is Q_{t-1} (None for the I-frame).
    """
    v = value.detach().to(torch.float32)
    s = torch.tensor(step, dtype=torch.float32, device=v.device)
    scaled = torch.round(v / s)
    if not bool(torch.isfinite(scaled).all()) or bool((scaled.abs() > 2**30).any()):
        raise ValueError("value / step out of int32 range (non-finite value or step too small)")
    q_total = scaled.to(torch.int32)
    symbols = q_total if q_prev is None else q_total - q_prev
    return symbols, q_total


@dataclass
class ChainQuantizer:
    """Integer state of one (track, level): Q per symbol channel; steps frozen for the GoF."""

    steps: list[float]
    state: list[torch.Tensor] | None = None

    def reset(self) -> None:
        self.state = None

    def push(
        self, density: torch.Tensor, planes: torch.Tensor
    ) -> tuple[list[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """Quantize frame t's float chain; returns (symbols per channel, reconstruction)."""
        values = split_channels(density, planes)
        if len(values) != len(self.steps):
            raise ValueError(f"expected {len(self.steps)} channels, got {len(values)}")
        prev = self.state or [None] * len(values)
        symbols, state = [], []
        for v, s, qp in zip(values, self.steps, prev):
            sym, tot = quantize_frame(v, s, qp)
            symbols.append(sym)
            state.append(tot)
        self.state = state
        return symbols, self.reconstruct()

    def reconstruct(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(density, planes) = s * Q for the current state."""
        assert self.state is not None
        return reconstruct_level(self.state, self.steps)


def reconstruct_level(
    q_totals: list[torch.Tensor], steps: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel integer totals -> (density (n,n,n), planes (3,C,m,m)) float32."""
    density = dequantize(q_totals[0], steps[0])
    planes = torch.stack([dequantize(q, s) for q, s in zip(q_totals[1:], steps[1:])], dim=1)
    return density, planes
