"""Loss terms: photometric MSE, residual L1 (as a mean), plane TV, the proximal soft threshold.

The two regularizers also come in a gradient form (`add_*_grad_`) that the trainer uses: it adds
the exact gradient of the term to `.grad` after the photometric backward. Over ~1.5 M entries
the autograd graph of these elementwise terms cost ~20% of a P-frame step on CPU.
"""

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
        # x - clamp(x, -a, a) = sign(x)·max(|x| - a, 0), in two passes instead of five.
        tensor.sub_(tensor.clamp(-amount, amount))


def total_variation(planes: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring plane texels (both axes)."""
    dr = planes[..., 1:, :] - planes[..., :-1, :]
    dc = planes[..., :, 1:] - planes[..., :, :-1]
    return (dr.pow(2).mean() + dc.pow(2).mean()) * 0.5


def _accumulate_(tensor: torch.Tensor, grad: torch.Tensor) -> None:
    if tensor.grad is None:
        tensor.grad = grad
    else:
        tensor.grad.add_(grad)


@torch.no_grad()
def add_residual_l1_grad_(
    residuals: list[torch.Tensor], weight: float, count: int | None = None
) -> None:
    """Add the gradient of `weight * residual_l1(residuals)` to each tensor's `.grad`.

    `count` overrides the mean's denominator (a share of a mean taken over more tensors).
    """
    count = sum(r.numel() for r in residuals) if count is None else count
    if weight == 0 or count == 0:
        return
    scale = weight / count
    for r in residuals:
        _accumulate_(r, torch.sign(r).mul_(scale))


@torch.no_grad()
def add_total_variation_grad_(planes: torch.Tensor, target: torch.Tensor, weight: float) -> None:
    """Add the gradient of `weight * total_variation(planes)` to `target.grad`.

    `target` is the tensor `planes` depends on with unit Jacobian (base + delta: the delta).
    """
    if weight == 0:
        return
    dr = planes[..., 1:, :] - planes[..., :-1, :]
    dc = planes[..., :, 1:] - planes[..., :, :-1]
    grad = torch.zeros_like(planes)
    dr.mul_(weight / dr.numel())
    dc.mul_(weight / dc.numel())
    grad[..., 1:, :] += dr
    grad[..., :-1, :] -= dr
    grad[..., :, 1:] += dc
    grad[..., :, :-1] -= dc
    _accumulate_(target, grad)
