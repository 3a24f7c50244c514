"""PSNR and SSIM of the evaluation, against an independent scipy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec.eval.quality import psnr, ssim

scipy_ndimage = pytest.importorskip("scipy.ndimage")


def _reference_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """Wang et al. with an 11-tap sigma-1.5 Gaussian, valid region, per channel then mean."""
    t = np.arange(11) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    g /= g.sum()
    w = np.outer(g, g)
    out = []
    for c in range(x.shape[2]):
        a, b = x[..., c].astype(np.float64), y[..., c].astype(np.float64)

        def f(img):
            return scipy_ndimage.correlate(img, w, mode="constant")[5:-5, 5:-5]

        mu_a, mu_b = f(a), f(b)
        saa = f(a * a) - mu_a**2
        sbb = f(b * b) - mu_b**2
        sab = f(a * b) - mu_a * mu_b
        c1, c2 = 0.01**2, 0.03**2
        m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / (
            (mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2)
        )
        out.append(m.mean())
    return float(np.mean(out))


def test_psnr_known_values() -> None:
    a = torch.zeros(8, 8, 3)
    assert psnr(a, a) == math.inf
    assert psnr(a + 0.1, a) == pytest.approx(20.0, abs=1e-5)  # float32 0.1
    assert psnr(a + 0.01, a) == pytest.approx(40.0, abs=1e-5)


def test_ssim_matches_reference_and_bounds() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (40, 36, 3)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    ours = ssim(torch.from_numpy(y), torch.from_numpy(x))
    assert ours == pytest.approx(_reference_ssim(y, x), abs=1e-9)
    assert ssim(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(1.0, abs=1e-12)
    worse = np.clip(x + rng.normal(0, 0.3, x.shape), 0, 1).astype(np.float32)
    assert ssim(torch.from_numpy(worse), torch.from_numpy(x)) < ours < 1.0


def test_ssim_rejects_tiny_or_mismatched_images() -> None:
    with pytest.raises(ValueError):
        ssim(torch.zeros(8, 8, 3), torch.zeros(8, 8, 3))
    with pytest.raises(ValueError):
        ssim(torch.zeros(16, 16, 3), torch.zeros(16, 17, 3))
