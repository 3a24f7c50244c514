"""Image quality for the evaluation: PSNR and SSIM of renders against ground truth.

Every method in an evaluation is measured by these two functions on the same views, so the
comparison does not depend on how any encoder scored itself.

SSIM is the usual one (Wang et al. 2004): Gaussian window 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03,
data range 1, computed per RGB channel on the valid (unpadded) area and averaged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of images in [0, 1] (any shape); identical images give +inf."""
    mse = float(torch.mean((pred.double() - target.double()) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _gaussian(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean SSIM of two (H, W, 3) images in [0, 1]."""
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(
            f"ssim needs two (H, W, C) images of one shape, got {pred.shape}, {target.shape}"
        )
    h, w, c = pred.shape
    if min(h, w) < SSIM_WINDOW:
        raise ValueError(f"ssim needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels")
    x = pred.double().permute(2, 0, 1).unsqueeze(1)  # (C, 1, H, W)
    y = target.double().permute(2, 0, 1).unsqueeze(1)
    g = _gaussian(SSIM_WINDOW, SSIM_SIGMA, x.device)
    kernel_h = g.view(1, 1, 1, -1)
    kernel_v = g.view(1, 1, -1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kernel_h), kernel_v)  # "valid": no padding artefacts

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return float((num / den).mean())
