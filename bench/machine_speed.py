"""A fixed 2-thread workload (200 products of 1024² float32 matrices) to tell this machine's
speed at the moment a timed bench runs (docs/TRAINING.md, session 6).

    .venv/bin/python bench/machine_speed.py
"""

import time

import torch

torch.set_num_threads(2)
a = torch.randn(1024, 1024)
start, cpu = time.perf_counter(), time.process_time()
for _ in range(200):
    a @ a
print(f"machine_speed: {time.perf_counter() - start:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")
