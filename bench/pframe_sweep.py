"""P-frame sweep on figure128 (docs/TRAINING.md, session 2): train the I-frame once with the
`fast` preset (cached in /tmp/exp/key*.npz), then P-frames 1..N-1 with TrainConfig overrides.

    T=2 .venv/bin/python bench/pframe_sweep.py '{"residual_prox": 0.05}' 2

prints one JSON line: test PSNR per LOD of the I-frame and of every P-frame, P-frame seconds
(wall and CPU), residual_ratio / zero_fraction. T = torch threads. With STEP_COST=1 it prints
the CPU milliseconds per P-frame step instead (frame 1, steps 20-220; needs p_steps >= 220).
RETRAIN_KEY=1 retrains (and re-caches) the I-frame, printing its wall and CPU seconds.
"""
import hashlib
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from codec.data.dataset import load_dataset  # noqa: E402
from codec.train.config import preset  # noqa: E402
from codec.train.gof import FrameResult, GoFTrainer  # noqa: E402
from codec.train.metrics import lod_psnr, residual_stats, view_psnr  # noqa: E402

torch.set_num_threads(int(os.environ.get("T", "2")))
ds = load_dataset(Path(__file__).resolve().parents[2] / "shared" / "bench" / "figure128")
pre = preset("fast")
overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
nframes = int(sys.argv[2]) if len(sys.argv) > 2 else 3
field_over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
field_over = {k: tuple(v) if isinstance(v, list) else v for k, v in field_over.items()}
if "render" in field_over:  # e.g. {"render": {"step_ratio": 1.0}}
    field_over["render"] = replace(pre.field.render, **field_over["render"])
field = replace(pre.field, **field_over).validate() if field_over else pre.field

def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


# KEY='{"level_weights_low": [0.5, 0.1, 0.1]}' changes the I-frame's own settings too (the
# P-frames then train with them as well); the overrides apply on top.
key_train = pre.train.with_(**_tuples(json.loads(os.environ.get("KEY", "{}"))))
cfg = key_train.with_(**_tuples(overrides))
# The I-frame trains with `key_train`: cache it per (I-frame settings, field). Only the fields
# the I-frame reads enter the key (P-frame fields come and go between sessions), and optional
# fields left at None stay out so adding one keeps old caches valid.
P_ONLY = ("p_", "residual_", "motion_")
key_cfg = {k: v for k, v in key_train.to_dict().items()
           if not k.startswith(P_ONLY) and not (k in ("level_weights_low",) and v is None)}
setup = json.dumps([key_cfg, field.__dict__], sort_keys=True, default=str)
Path("/tmp/exp").mkdir(exist_ok=True)
keyfile = Path(f"/tmp/exp/key_{hashlib.sha1(setup.encode()).hexdigest()[:12]}.npz")
frames = list(range(nframes))
tr = GoFTrainer(ds, frames, field, cfg, "cpu", progress=False)
if keyfile.exists() and not os.environ.get("RETRAIN_KEY"):
    z = np.load(keyfile)
    L = field.levels
    dens = [torch.from_numpy(z[f"d{i}"]) for i in range(L)]
    planes = [torch.from_numpy(z[f"p{i}"]) for i in range(L)]
    nm = int(z["nmlp"])
    tr.result.mlp = [(torch.from_numpy(z[f"w{i}"]), torch.from_numpy(z[f"b{i}"])) for i in range(nm)]
    tr.result.frames.append(FrameResult(0, True, dens, planes, seconds=float(z["sec"])))
else:
    t = time.perf_counter()
    sub = GoFTrainer(ds, [0], field, key_train, "cpu", progress=False).run()
    fr = sub.frames[0]
    arrs = {f"d{i}": d.numpy() for i, d in enumerate(fr.density)}
    arrs.update({f"p{i}": p.numpy() for i, p in enumerate(fr.planes)})
    arrs.update({f"w{i}": w.numpy() for i, (w, b) in enumerate(sub.mlp)})
    arrs.update({f"b{i}": b.numpy() for i, (w, b) in enumerate(sub.mlp)})
    np.savez(keyfile, nmlp=len(sub.mlp), sec=fr.seconds, cpu=fr.cpu_seconds, **arrs)
    print("key trained", round(fr.seconds, 1), "s wall", round(fr.cpu_seconds, 1), "s CPU", flush=True)
    tr.result.mlp = sub.mlp
    tr.result.frames.append(fr)
if os.environ.get("STEP_COST"):
    # CPU ms per P-frame step: frame 1, steps 20-220 (after the first occupancy refreshes).
    from codec.train.rays import frame_rays  # noqa: E402

    tr._prev_rays = frame_rays(ds, 0, tr.views, "cpu")
    tr._prev_hulls = tr._hulls(tr._prev_rays)
    trainer, _, _ = tr._make_trainer(1)
    trainer.run(until=20)
    t = time.process_time()
    trainer.run(until=220)
    print(json.dumps({"overrides": overrides,
                      "p_cpu_ms_per_step": round((time.process_time() - t) * 5, 1)}))
    sys.exit(0)
views = list(ds.test_views)
res = tr.run()
out = {"overrides": overrides, "key_overrides": os.environ.get("KEY", "{}")}
out["key"] = lod_psnr(res, 0, ds, views)
out["copy_prev_on_1"] = view_psnr(res.grids(0), ds, 1, views)
out["p"] = [lod_psnr(res, i, ds, views) for i in range(1, len(res.frames))]
out["p_sec"] = [round(f.seconds, 1) for f in res.frames[1:]]
out["p_cpu"] = [round(f.cpu_seconds, 1) for f in res.frames[1:]]
out.update({k: round(v, 4) for k, v in residual_stats(res).items()})
# Where the residual mass sits: per (kind, level) share of Σ|R| over the P-frames.
mass = {}
for f in res.frames[1:]:
    for kind, rs in (("d", f.residual_density), ("p", f.residual_planes)):
        for lvl, r in enumerate(rs or []):
            mass[f"{kind}{lvl + 1}"] = mass.get(f"{kind}{lvl + 1}", 0.0) + float(r.abs().sum())
total = sum(mass.values()) or 1.0
out["r_mass_share"] = {k: round(v / total, 3) for k, v in mass.items()}
out["gap"] = out["key"][-1] - float(np.mean([p[-1] for p in out["p"]]))
print(json.dumps(out))
