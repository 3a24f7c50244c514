"""Micro-benchmark: forward + backward of sampling the density levels at N points, level by level
(the training renderer today) against summing levels that share a lattice first, or composing
levels 1-3 onto the 49-point lattice (docs/TRAINING.md, session 6). 1 thread, ladder 25/25/49/97.

    .venv/bin/python bench/density_sampling.py [N]
"""

import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from codec.field.compose import compose_density  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
n = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
pts = (torch.rand(n, 3) * 2 - 1).view(1, 1, 1, -1, 3)
levels = [torch.randn(r, r, r, requires_grad=True) for r in (25, 25, 49, 97)]
grad = torch.randn(n)


def per_level(ls):
    return sum(F.grid_sample(d[None, None], pts, mode="bilinear", padding_mode="border",
                             align_corners=True).view(-1) for d in ls)


variants = {
    "per level": per_level,
    "same lattice summed": lambda ls: per_level([ls[0] + ls[1], ls[2], ls[3]]),
    "1-3 composed on 49": lambda ls: per_level([compose_density(ls[:3]), ls[3]]),
}
for name, fn in variants.items():
    fn(levels).backward(grad)  # warm-up
    start = time.perf_counter()
    for _ in range(5):
        fn(levels).backward(grad)
    err = float((fn(levels) - per_level(levels)).abs().max().detach())
    print(f"{name}: {(time.perf_counter() - start) / 5 * 1000:.1f} ms, max |diff| {err:.1e}")
