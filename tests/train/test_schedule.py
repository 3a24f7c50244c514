from __future__ import annotations

from codec.train.schedule import LevelSchedule


def test_progressive_switches_levels_on_then_freezes_lower_ones():
    s = LevelSchedule(steps=100, levels=4, on_fraction=0.3, freeze_fraction=0.2)
    assert s.plan(0).active == 1
    actives = [s.plan(i).active for i in range(100)]
    assert actives == sorted(actives) and actives[-1] == 4
    assert s.plan(30).active == 4
    mid = s.plan(50)
    assert mid.trainable == (0, 1, 2, 3) and mid.lods == (1, 2, 3, 4)
    assert mid.weights == (0.25, 0.25, 0.25, 1.0) and mid.train_mlp
    late = s.plan(90)
    assert late.trainable == (3,) and late.lods == (4,) and not late.train_mlp


def test_no_progressive_ablation_has_everything_from_step_zero():
    s = LevelSchedule(steps=100, levels=3, progressive=False)
    for step in (0, 50, 99):
        p = s.plan(step)
        assert p.active == 3 and p.trainable == (0, 1, 2) and p.train_mlp


def test_single_level_ablation_supervises_only_the_finest_active_lod():
    s = LevelSchedule(steps=100, levels=3, multi_level=False, progressive=False)
    assert s.plan(10).lods == (3,)


def test_lr_decays_to_the_final_ratio_over_the_budget():
    s = LevelSchedule(steps=200, levels=2, lr_final_ratio=0.1)
    assert s.lr_scale(0) == 1.0
    assert abs(s.lr_scale(200) - 0.1) < 1e-12
    assert s.lr_scale(100) < 1.0


def test_per_lod_low_weights_replace_the_single_low_weight():
    s = LevelSchedule(steps=100, levels=4, progressive=False, low_weights=(0.5, 0.05, 0.02))
    assert s.plan(10).weights == (0.5, 0.05, 0.02, 1.0)
    # While fewer levels are active, the finest active LOD still weighs 1.
    p = LevelSchedule(steps=100, levels=4, on_fraction=0.3, low_weights=(0.5, 0.05, 0.02))
    assert p.plan(0).weights == (1.0,)
    assert p.plan(25).weights == (0.5, 0.05, 1.0)


def test_lr_hold_keeps_the_base_rate_then_decays_to_the_final_ratio():
    s = LevelSchedule(steps=200, levels=2, lr_final_ratio=0.1, lr_hold=0.5)
    assert s.lr_scale(0) == s.lr_scale(100) == 1.0
    assert 0.1 < s.lr_scale(150) < 1.0
    assert abs(s.lr_scale(200) - 0.1) < 1e-12
