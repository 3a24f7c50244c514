"""SHA-256 over every tensor a short figure128 GoF trains to (frames 0-2, `fast` preset with
300 I-frame and 150 P-frame steps, 2 threads): run it from two code snapshots to check that a
change leaves training bit for bit as it was (docs/TRAINING.md, session 7).

    cd SNAPSHOT && FIGURE128=/path/to/figure128 PYTHONPATH=. .venv/bin/python bench/train_hash.py [KEY_STEPS P_STEPS]
"""

import hashlib
import os
import sys
import time
from pathlib import Path

import torch

from codec.data.dataset import load_dataset
from codec.train.config import preset
from codec.train.gof import GoFTrainer

# Beside the repository (as `fieldcast bench field` assumes); FIGURE128 overrides it, e.g. when
# running from a snapshot elsewhere.
DATASET = Path(os.environ.get(
    "FIGURE128", Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128"))

torch.set_num_threads(2)
key_steps, p_steps = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (300, 150)
pre = preset("fast")
dataset = load_dataset(DATASET, downscale=pre.downscale)
start = time.perf_counter()
result = GoFTrainer(dataset, [0, 1, 2], pre.field,
                    pre.train.with_(key_steps=key_steps, p_steps=p_steps), "cpu",
                    progress=False).run()
digest = hashlib.sha256()
for frame in result.frames:
    for tensor in frame.density + frame.planes:
        digest.update(tensor.detach().contiguous().numpy().tobytes())
for weight, bias in result.mlp:
    digest.update(weight.numpy().tobytes())
    digest.update(bias.numpy().tobytes())
print(digest.hexdigest()[:16], f"({time.perf_counter() - start:.1f} s)")
