"""Seconds of a frame's preparation on figure128 (`fast` preset, 2 threads): its rays, its visual
hull (97³ lattice, every train view, then the coarser levels) and the changed pixels, frames 0-2
(docs/TRAINING.md, session 7). Run from a snapshot to compare code versions.

    FIGURE128=/path/to/figure128 PYTHONPATH=. .venv/bin/python bench/hull_time.py
"""

import os
import time
from pathlib import Path

import torch

from codec.data.dataset import load_dataset
from codec.train.config import preset
from codec.train.init import hull_at_resolution, visual_hull
from codec.train.rays import changed_pixels, frame_rays

DATASET = Path(os.environ.get(
    "FIGURE128", Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128"))

torch.set_num_threads(2)
pre = preset("fast")
dataset = load_dataset(DATASET, downscale=pre.downscale)
aabb = torch.as_tensor(dataset.aabb, dtype=torch.float32)
views = list(dataset.train_views)
previous = None
for frame in (0, 1, 2):
    t0 = time.perf_counter()
    rays = frame_rays(dataset, frame, views, "cpu")
    t1 = time.perf_counter()
    fine = visual_hull(rays.cameras, rays.alphas(), aabb, pre.field.density_res[-1],
                       pre.train.hull_alpha, pre.train.hull_dilate)
    [hull_at_resolution(fine, n) for n in pre.field.density_res]
    t2 = time.perf_counter()
    if previous is not None:
        changed_pixels(rays, previous, pre.train.motion_threshold)
    t3 = time.perf_counter()
    print(f"frame {frame}: rays {t1 - t0:.2f} s, hull {t2 - t1:.2f} s, motion {t3 - t2:.2f} s")
    previous = rays
