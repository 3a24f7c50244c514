"""Image quality: PSNR and SSIM on torch tensors, optionally masked.

Images are (H, W, C) or batched (..., H, W, C) floats in [0, `max_val`]. A batched call returns
one value per image (shape ``...``); an unbatched one a 0-d tensor. Masks are (H, W) or
(..., H, W), bool or float weights, and select the pixels that count.

SSIM is Wang et al. 2004: an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, statistics
over the window positions that fit inside the image ("valid", as the reference implementation),
averaged over channels. With a mask, the SSIM map is averaged with the mask's weight at each
window centre.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.ndim < 3:
        raise ValueError(f"images must be (H, W, C) or (..., H, W, C), got {tuple(a.shape)}")
    if not (a.is_floating_point() and b.is_floating_point()):
        raise TypeError("images must be floating point")


def _mask_weights(mask: torch.Tensor, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """Mask as float weights broadcast to (..., H, W)."""
    m = mask.to(device=like.device, dtype=like.dtype)
    if m.shape[-2:] != shape[-3:-1]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match images {tuple(shape)}")
    return m.expand(*shape[:-1])


def mse(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error per image (over pixels and channels; masked pixels only)."""
    _check(a, b)
    err = (a - b).pow(2).mean(dim=-1)  # (..., H, W)
    if mask is None:
        return err.mean(dim=(-2, -1))
    w = _mask_weights(mask, a.shape, err)
    return (err * w).sum(dim=(-2, -1)) / w.sum(dim=(-2, -1))


def psnr(
    a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, max_val: float = 1.0
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, 10 log10(max_val^2 / MSE); +inf for identical images,
    NaN where a mask selects nothing."""
    m = mse(a, b, mask)
    return 10.0 * torch.log10(max_val**2 / m)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64) -> torch.Tensor:
    """Normalized 1-D Gaussian of `size` taps."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(
    a: torch.Tensor,
    b: torch.Tensor,
    max_val: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Per-position SSIM (..., H - window + 1, W - window + 1), averaged over channels."""
    _check(a, b)
    *batch, h, w, c = a.shape
    if h < window or w < window:
        raise ValueError(f"images of {w}x{h} are smaller than the {window}x{window} SSIM window")
    x = a.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    y = b.reshape(-1, h, w, c).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    g = gaussian_window(window, sigma, dtype=a.dtype).to(a.device)
    gx, gy = g.view(1, 1, 1, window), g.view(1, 1, window, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable "valid" Gaussian filter
        return F.conv2d(F.conv2d(t, gx), gy)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    hh, ww = s.shape[-2:]
    return s.view(-1, c, hh, ww).mean(dim=1).view(*batch, hh, ww)


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    mask: torch.Tensor | None = None,
    max_val: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean SSIM per image (1 for identical images); masked: weighted by the mask at window centres."""
    s = ssim_map(a, b, max_val, window, sigma)
    if mask is None:
        return s.mean(dim=(-2, -1))
    half = window // 2
    wts = _mask_weights(mask, a.shape, s)[..., half : a.shape[-3] - half, half : a.shape[-2] - half]
    return (s * wts).sum(dim=(-2, -1)) / wts.sum(dim=(-2, -1))


def psnr_from_mse(value: float, max_val: float = 1.0) -> float:
    """PSNR in dB of a plain MSE number (inf for 0)."""
    return math.inf if value <= 0 else 10.0 * math.log10(max_val**2 / value)
