"""PSNR / SSIM against hand-computed values and a plain numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from codec.metrics import mse, psnr, psnr_from_mse, ssim, ssim_map


def _ssim_reference(x: np.ndarray, y: np.ndarray, max_val: float = 1.0) -> float:
    """Wang et al. 2004 written out with loops: 11x11 Gaussian (1.5), valid positions, channel mean."""
    size, sigma = 11, 1.5
    ax = np.arange(size) - (size - 1) / 2
    g1 = np.exp(-(ax**2) / (2 * sigma**2))
    win = np.outer(g1, g1)
    win /= win.sum()
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    h, w, c = x.shape
    vals = []
    for ch in range(c):
        for i in range(h - size + 1):
            for j in range(w - size + 1):
                px, py = x[i : i + size, j : j + size, ch], y[i : i + size, j : j + size, ch]
                mx, my = (win * px).sum(), (win * py).sum()
                vx = (win * (px - mx) ** 2).sum()
                vy = (win * (py - my) ** 2).sum()
                cxy = (win * (px - mx) * (py - my)).sum()
                vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    per_channel = np.array(vals).reshape(c, -1).mean(axis=1)
    return float(per_channel.mean())


def test_psnr_known_values():
    a = torch.full((8, 6, 3), 0.5)
    assert psnr(a, a).item() == math.inf
    assert psnr(a, a + 0.1).item() == pytest.approx(20.0, abs=1e-5)
    assert psnr(a, a - 0.01).item() == pytest.approx(40.0, abs=1e-3)
    b = a.clone()
    b[0, 0, 0] = 0.5 + 0.3  # one channel of one pixel off by 0.3
    assert mse(a, b).item() == pytest.approx(0.09 / (8 * 6 * 3))
    assert psnr(a, b, max_val=2.0).item() == pytest.approx(10 * math.log10(4 / (0.09 / 144)), abs=1e-4)
    assert psnr_from_mse(0.01) == pytest.approx(20.0) and psnr_from_mse(0.0) == math.inf


def test_psnr_masked_and_batched():
    a = torch.zeros(2, 4, 4, 3, dtype=torch.float64)
    b = a.clone()
    b[:, :, 2:] = 0.1  # right half off by 0.1
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[:, :2] = True
    out = psnr(a, b, mask=mask)
    assert out.shape == (2,) and torch.all(torch.isinf(out))
    assert torch.allclose(psnr(a, b, mask=~mask), torch.full((2,), 20.0, dtype=torch.float64))
    assert torch.allclose(psnr(a, b), torch.full((2,), 10 * math.log10(1 / 0.005), dtype=torch.float64))
    soft = torch.full((4, 4), 0.5, dtype=torch.float64)
    assert torch.allclose(psnr(a, b, mask=soft), psnr(a, b))  # uniform weights = no mask


def test_ssim_identical_is_one():
    x = torch.rand(2, 20, 24, 3, generator=torch.Generator().manual_seed(0))
    out = ssim(x, x)
    assert out.shape == (2,) and torch.allclose(out, torch.ones(2), atol=1e-6)


def test_ssim_of_constant_images_is_hand_computable():
    # sigma = 0 everywhere, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    m1, m2 = 0.3, 0.5
    c1 = 0.01**2
    expected = (2 * m1 * m2 + c1) / (m1**2 + m2**2 + c1)
    a = torch.full((16, 16, 3), m1, dtype=torch.float64)
    b = torch.full((16, 16, 3), m2, dtype=torch.float64)
    assert ssim(a, b).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("shape", [(16, 16, 3), (13, 21, 1)])
def test_ssim_matches_numpy_reference(shape):
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.rand(*shape, generator=g, dtype=torch.float64)
    y = (x + 0.15 * torch.randn(*shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = _ssim_reference(x.numpy(), y.numpy())
    assert ssim(x, y).item() == pytest.approx(ref, abs=1e-10)
    assert ssim(x.float(), y.float()).item() == pytest.approx(ref, abs=1e-5)
    assert ssim(y, x).item() == pytest.approx(ref, abs=1e-10)  # symmetric
    assert 0 < ref < 0.95


def test_ssim_masked():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(24, 24, 3, generator=g)
    y = x.clone()
    y[:, 12:] = torch.rand(24, 12, 3, generator=g)  # right half replaced by noise
    full = ssim(x, y)
    mask = torch.zeros(24, 24, dtype=torch.bool)
    mask[:, 5:7] = True  # windows centred on cols 5, 6 reach col 11 at most: identical pixels
    assert ssim(x, y, mask=mask).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(x, y, mask=torch.ones(24, 24)).item() == pytest.approx(full.item(), abs=1e-6)
    m = ssim_map(x, y)
    assert m.shape == (14, 14)
    assert ssim(x, y, mask=~mask).item() < full.item()


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        psnr(torch.zeros(4, 4, 3), torch.zeros(4, 5, 3))
    with pytest.raises(ValueError, match="window"):
        ssim(torch.zeros(8, 8, 3), torch.zeros(8, 8, 3))
    with pytest.raises(ValueError, match="mask"):
        psnr(torch.zeros(4, 4, 3), torch.zeros(4, 4, 3), mask=torch.ones(3, 3))
