"""I-frame sweep on figure128 (docs/TRAINING.md, session 2): train frame 0 with TrainConfig
(and optionally FieldConfig) overrides and print test PSNR per LOD and seconds.

    T=2 .venv/bin/python bench/key_sweep.py '{"key_lr_planes": 0.15}' ['{"density_res": [13]}']
"""
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from codec.data.dataset import load_dataset  # noqa: E402
from codec.train.config import preset  # noqa: E402
from codec.train.gof import GoFTrainer  # noqa: E402
from codec.train.metrics import lod_psnr  # noqa: E402

torch.set_num_threads(int(os.environ.get("T", "2")))
ds = load_dataset(Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128")
pre = preset("fast")
cfg = pre.train.with_(**json.loads(sys.argv[1]))
fo = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
fo = {k: tuple(v) if isinstance(v, list) else v for k, v in fo.items()}
if "render" in fo:  # e.g. {"render": {"step_ratio": 1.0}}
    fo["render"] = replace(pre.field.render, **fo["render"])
field = replace(pre.field, **fo).validate()
res = GoFTrainer(ds, [0], field, cfg, "cpu", progress=False).run()
print(json.dumps({"o": sys.argv[1], "lod": [round(x, 3) for x in lod_psnr(res, 0, ds, list(ds.test_views))], "sec": res.frames[0].seconds, "cpu": res.frames[0].cpu_seconds}))
