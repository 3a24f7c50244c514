"""FieldConfig validation: density lattices nest (a lattice may repeat), plane lattices only increase."""

from __future__ import annotations

import pytest
import torch

from codec.field.compose import compose_density, compose_planes
from codec.field.config import FieldConfig


def test_unnested_plane_lattices_are_valid_and_compose_by_resampling() -> None:
    cfg = FieldConfig(density_res=(5, 9, 17), plane_res=(13, 17, 29)).validate()
    levels = [torch.randn(3, 2, m, m) for m in cfg.plane_res]
    composed = compose_planes(levels)
    assert composed.shape == (3, 2, 29, 29)
    # A constant level stays constant under the bilinear resampling.
    const = [torch.full((3, 2, m, m), 0.5) for m in cfg.plane_res]
    assert torch.allclose(compose_planes(const), torch.full((3, 2, 29, 29), 1.5))


@pytest.mark.parametrize(
    "density,planes,msg",
    [
        ((5, 8, 17), (9, 17, 33), "density_res must not decrease and must nest"),
        ((5, 9, 5), (9, 17, 33), "density_res must not decrease and must nest"),
        ((5, 9, 17), (9, 17, 17), "plane_res must increase"),
        ((5, 9, 17), (1, 17, 33), "plane_res must increase"),
    ],
)
def test_bad_ladders_are_refused(density, planes, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        FieldConfig(density_res=density, plane_res=planes).validate()


def test_a_density_lattice_may_repeat_and_composes_exactly() -> None:
    """(9, 9, 17): level 2 refines level 1's density on the same lattice (factor 1 nests)."""
    cfg = FieldConfig(density_res=(9, 9, 17), plane_res=(9, 17, 33)).validate()
    levels = [torch.randn(n, n, n) for n in cfg.density_res]
    two = compose_density(levels[:2])
    assert torch.allclose(two, levels[0] + levels[1])
