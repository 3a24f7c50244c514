"""Wall time of joint-rate I-frame steps and the rate hook's share of it (figure128, `fast`
preset, 4 tracks, all four levels on): the encoder's real training step, through
`fieldcast encode`, with the I-frame shortened to 600 steps so every level is on by step 240.
Times steps 300-359 and the hook methods called in them, then stops.

    FIGURE128=/path/to/figure128 PYTHONPATH=. .venv/bin/python bench/joint_step_cost.py [THREADS]

For an A/B, run it from `git archive` snapshots of the two versions, one after the other.
"""

import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from codec.encode import rate_hook
from codec.train import frame as frame_module

DATASET = Path(os.environ.get(
    "FIGURE128", Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128"))
FIRST, COUNT = 300, 60

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
spent: collections.Counter = collections.Counter()
timing = {"on": False}


def timed(cls: type, name: str) -> None:
    plain = getattr(cls, name)

    def wrapper(*args, **kwargs):
        if not timing["on"]:
            return plain(*args, **kwargs)
        start = time.perf_counter()
        out = plain(*args, **kwargs)
        spent[name] += time.perf_counter() - start
        return out

    setattr(cls, name, wrapper)


for method in ("loss", "simulate", "_block_masks", "_sampled_keep", "_refit", "_bits"):
    if hasattr(rate_hook.JointRateHook, method):
        timed(rate_hook.JointRateHook, method)
plain_step = frame_module.FrameTrainer.train_step


class Done(Exception):
    pass


def step(trainer: frame_module.FrameTrainer) -> float:
    if trainer.step != FIRST:
        return plain_step(trainer)
    timing["on"] = True
    start = time.perf_counter()
    for _ in range(COUNT):
        plain_step(trainer)
    total = time.perf_counter() - start
    parts = ", ".join(f"{k} {v / COUNT * 1000:.1f}" for k, v in spent.items())
    print(f"{threads} thread(s): {total / COUNT * 1000:.1f} ms per joint I-frame step ({parts} ms)")
    raise Done


frame_module.FrameTrainer.train_step = step
from app.cli import main  # noqa: E402  (after the patches: the CLI imports the trainer)

with tempfile.TemporaryDirectory() as tmp:
    try:
        main(["encode", str(DATASET), "-o", f"{tmp}/x.fcv", "--frames", "1", "--gof", "1",
              "--preset", "fast", "--tracks", "4", "--key-steps", "600", "--work-dir",
              f"{tmp}/work"])
    except Done:
        pass
