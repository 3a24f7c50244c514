"""Loss terms: photometric MSE, residual L1 (as a mean), and the proximal soft threshold."""

from __future__ import annotations

import math

import torch


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred - target) ** 2)


def psnr_from_mse(value: float) -> float:
    return -10.0 * math.log10(max(value, 1e-12))


def residual_l1(residuals: list[torch.Tensor]) -> torch.Tensor:
    """Mean |R| over all entries of the given residual tensors.

    A mean, not a sum: summed over ~10^6 entries the penalty's gradient dwarfs the photometric
    one (DESIGN.md); the mean keeps `residual_l1` weights O(1e-4..1e-2) meaningful.
    """
    total = sum(r.abs().sum() for r in residuals)
    count = sum(r.numel() for r in residuals)
    return total / max(count, 1)


@torch.no_grad()
def soft_threshold_(tensor: torch.Tensor, amount: float) -> None:
    """Proximal step of λ|x|: shrink every entry toward 0 by `amount`, exact zeros below it.

    Adam moves every entry with a non-zero gradient by ~lr per step, so L1 alone leaves residuals
    dense; this shrink makes entries without a consistent data gradient exactly zero.
    """
    if amount > 0:
        tensor.copy_(torch.sign(tensor) * (tensor.abs() - amount).clamp_min(0.0))


def total_variation(planes: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring plane texels (both axes)."""
    dr = planes[..., 1:, :] - planes[..., :-1, :]
    dc = planes[..., :, 1:] - planes[..., :, :-1]
    return (dr.pow(2).mean() + dc.pow(2).mean()) * 0.5
