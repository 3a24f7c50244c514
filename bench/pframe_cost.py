"""Cost of one P-frame (figure128 frame 1, `fast` preset, 500 steps) on 1 torch thread
(`--threads N`: on N).

For an A/B of two code versions on a machine whose speed drifts: run it from two `git archive`
snapshots at the same time (one core each), so both see the same conditions. The I-frame is
trained once and cached in CACHE (npz checkpoint, bit-identical across versions whose I-frame
training is); each run resumes from a copy of it and trains frame 1 only.

    cd SNAPSHOT && FIGURE128=/path/to/figure128 PYTHONPATH=. OMP_WAIT_POLICY=PASSIVE \\
        MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 \\
        .venv/bin/python bench/pframe_cost.py LABEL CACHE [--profile]

--profile also prints the torch profiler's table (self CPU per op) over P steps 150-169.
For a 2-thread A/B, run the two versions one after the other (alternating, twice) instead.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from codec.data.dataset import load_dataset
from codec.train.config import preset
from codec.train.frame import FrameTrainer
from codec.train.gof import GoFTrainer, Interrupted

# Beside the repository (as `fieldcast bench field` assumes); FIGURE128 overrides it, e.g. when
# running from a snapshot elsewhere.
DATASET = Path(os.environ.get(
    "FIGURE128", Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128"))

label, cache = sys.argv[1], Path(sys.argv[2])
if "--profile" in sys.argv[3:]:
    plain_step = FrameTrainer.train_step

    def profiled_step(trainer: FrameTrainer) -> float:
        if trainer.is_key or trainer.step != 150:
            return plain_step(trainer)
        with torch.profiler.profile() as prof:
            for _ in range(20):
                loss = plain_step(trainer)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return loss

    FrameTrainer.train_step = profiled_step
threads = 1
if "--threads" in sys.argv[3:]:
    threads = int(sys.argv[sys.argv.index("--threads") + 1])
torch.set_num_threads(threads)
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
print(f"{label}: P-frame 1 {frame.seconds:.2f} s wall, {frame.cpu_seconds:.2f} s CPU, {threads} thread(s) "
      f"(run {time.perf_counter() - start:.2f} s)")
