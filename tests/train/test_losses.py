"""The gradient forms of the regularizers equal autograd of their loss forms."""

import torch

from codec.train.losses import (
    add_residual_l1_grad_,
    add_total_variation_grad_,
    residual_l1,
    soft_threshold_,
    total_variation,
)


def test_residual_l1_gradient_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(5, 6, 7, generator=gen), torch.randn(3, 4, 9, 9, generator=gen)]
    tensors[0][0] = 0.0  # sign(0) = 0 in both forms
    auto = [t.clone().requires_grad_(True) for t in tensors]
    (0.3 * residual_l1(auto)).backward()
    manual = [t.clone().requires_grad_(True) for t in tensors]
    manual[1].grad = torch.ones_like(manual[1])  # accumulates onto an existing gradient
    add_residual_l1_grad_(manual, 0.3)
    torch.testing.assert_close(manual[0].grad, auto[0].grad)
    torch.testing.assert_close(manual[1].grad, auto[1].grad + 1.0)


def test_total_variation_gradient_matches_autograd() -> None:
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(3, 4, 11, 11, generator=gen)
    delta = torch.randn(3, 4, 11, 11, generator=gen)
    auto = delta.clone().requires_grad_(True)
    (2.5 * total_variation(base + auto)).backward()
    manual = delta.clone().requires_grad_(True)
    add_total_variation_grad_((base + manual).detach(), manual, 2.5)
    torch.testing.assert_close(manual.grad, auto.grad)
    assert float(manual.grad.abs().sum()) > 0


def test_soft_threshold_shrinks_toward_zero_with_exact_zeros() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(1000, generator=gen)
    expected = torch.sign(x) * (x.abs() - 0.3).clamp_min(0.0)
    y = x.clone()
    soft_threshold_(y, 0.3)
    torch.testing.assert_close(y, expected)
    assert bool((y[x.abs() <= 0.3] == 0).all()) and float(y.abs().min()) == 0.0
    z = x.clone()
    soft_threshold_(z, 0.0)
    assert torch.equal(z, x)
