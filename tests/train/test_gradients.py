"""Gradients reach every level that is switched on, and none that is not."""

from __future__ import annotations

from codec.field.mlp import init_mlp
from codec.train.gof import GoFTrainer


def _trainer(tiny, pre, **changes):
    cfg = pre.train.with_(**changes)
    gof = GoFTrainer(tiny, [0], pre.field, cfg, progress=False)
    import torch

    gof.result.mlp = init_mlp(pre.field.feature_dim + pre.field.view_dim, pre.field.hidden,
                              torch.Generator().manual_seed(0))
    trainer, _, _ = gof._make_trainer(0)
    return trainer


def _has_grad(t):
    return t.grad is not None and bool(t.grad.abs().sum() > 0)


def test_full_lod_step_updates_every_level(tiny, test_preset):
    tr = _trainer(tiny, test_preset, progressive=False, multi_level=False)
    tr.train_step()
    p = tr.params
    assert all(_has_grad(d) for d in p.delta_density)
    assert all(_has_grad(pl) for pl in p.delta_planes)
    assert all(_has_grad(w) and _has_grad(b) for w, b in tr.mlp)


def test_progressive_start_trains_only_switched_on_levels(tiny, test_preset):
    tr = _trainer(tiny, test_preset, progressive=True, level_on_fraction=0.5)
    tr.train_step()  # step 0: only level 1 exists
    p = tr.params
    assert _has_grad(p.delta_density[0]) and _has_grad(p.delta_planes[0])
    assert all(d.grad is None for d in p.delta_density[1:])
    # Jump into the phase where every level is on: all of them learn.
    tr.step = tr.schedule.switch_on_step(p.levels - 1)
    tr.cfg = tr.cfg.with_(lod_sampling=False)
    tr.train_step()
    assert all(_has_grad(d) for d in p.delta_density)
    assert all(_has_grad(pl) for pl in p.delta_planes)
