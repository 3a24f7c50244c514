"""Cost of one P-frame (figure128 frame 1, `fast` preset, 500 steps) on 1 torch thread.

For an A/B of two code versions on a machine whose speed drifts: run it from two `git archive`
snapshots at the same time (one core each), so both see the same conditions. The I-frame is
trained once and cached in CACHE (npz checkpoint, bit-identical across versions whose I-frame
training is); each run resumes from a copy of it and trains frame 1 only.

    cd SNAPSHOT && PYTHONPATH=. OMP_WAIT_POLICY=PASSIVE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 .venv/bin/python bench/pframe_cost.py LABEL CACHE
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from codec.data.dataset import load_dataset
from codec.train.config import preset
from codec.train.gof import GoFTrainer, Interrupted

DATASET = Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128"
if not DATASET.exists():
    DATASET = Path("/work/shared/bench/figure128")

label, cache = sys.argv[1], Path(sys.argv[2])
torch.set_num_threads(1)
pre = preset("fast")
dataset = load_dataset(DATASET, downscale=pre.downscale)
if not cache.exists():
    try:
        GoFTrainer(dataset, [0, 1], pre.field, pre.train, "cpu", checkpoint=cache,
                   progress=False).run(max_steps=pre.train.key_steps)
    except Interrupted:
        pass
with tempfile.TemporaryDirectory() as tmp:
    work = Path(tmp) / "ck.npz"
    shutil.copy(cache, work)
    start = time.perf_counter()
    result = GoFTrainer(dataset, [0, 1], pre.field, pre.train, "cpu", checkpoint=work,
                        progress=False).run()
frame = result.frames[1]
print(f"{label}: P-frame 1 {frame.seconds:.2f} s wall, {frame.cpu_seconds:.2f} s CPU "
      f"(run {time.perf_counter() - start:.2f} s)")
