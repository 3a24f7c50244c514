from __future__ import annotations

import pytest

from codec.train.config import PRESETS, TrainConfig, preset


@pytest.mark.parametrize("name", ["test", "fast", "default", "best"])
def test_presets_validate(name):
    pre = preset(name)
    assert pre.train.validate() is pre.train
    assert pre.field.validate() is pre.field
    assert pre.name == name


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="fast"):
        preset("nope")


@pytest.mark.parametrize(
    "bad",
    [
        {"batch_rays": 0},
        {"level_on_fraction": 0.7, "freeze_fraction": 0.4},
        {"motion_ray_fraction": 1.5},
        {"key_lr_density": 0.0},
        {"lr_final_ratio": 0.0},
        {"occupancy_every": 0},
        {"p_adam_eps": 0.0},
        {"p_adam_betas": (0.9, 1.0)},
        {"p_level_weight_low": -0.1},
        {"p_batch_fraction": 0.0},
    ],
)
def test_invalid_values_raise(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad).validate()


def test_with_returns_validated_copy():
    cfg = TrainConfig().with_(key_steps=7)
    assert cfg.key_steps == 7 and TrainConfig().key_steps != 7
    assert set(PRESETS) >= {"test", "fast", "default", "best"}
