"""A tiny synthetic clip (2 GoFs, 2 tracks, 2 levels), encoded once per session."""

from __future__ import annotations

import pytest

from codec.encode.quantized import EncodedClip, encode_clip
from codec.encode.synthetic import synthetic_chains, synthetic_header
from codec.field.config import FieldConfig


@pytest.fixture(scope="session")
def tiny_clip() -> tuple[EncodedClip, bytes]:
    cfg = FieldConfig.nested(2, 4, 4, channels=2, hidden=(8,))
    header = synthetic_header(cfg, frames=5, gof=3, tracks=2)
    enc = encode_clip(header, synthetic_chains(header, seed=1))
    metrics = {(r, lv): {"psnr": 20.0 + r + lv, "ssim": 0.5} for r in range(2) for lv in range(2)}
    layout = enc.build(metrics, {"preset": "test"})
    return enc, layout.data
