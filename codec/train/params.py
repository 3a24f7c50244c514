"""Trainable per-level tensors of one frame: F_l = base_l + delta_l.

An I-frame's base is its initialisation (the visual hull, zero features) and its delta the
learned grid; a P-frame's base is the previous frame's reconstruction F̂_{t-1}^l and its delta
is the residual R_t^l that the codec quantizes and codes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..field.compose import compose_density, compose_planes

Simulate = Callable[[str, int, torch.Tensor], torch.Tensor]
"""(kind 'density'|'planes', 0-based level, delta) -> delta as the decoder will see it."""


class LevelParams:
    """Per-level density (n³) and planes (3, C, m, m) as base (fixed) + delta (trainable)."""

    def __init__(self, base_density: list[torch.Tensor], base_planes: list[torch.Tensor]):
        self.base_density = [d.detach().clone() for d in base_density]
        self.base_planes = [p.detach().clone() for p in base_planes]
        self.delta_density = [torch.zeros_like(d).requires_grad_(True) for d in base_density]
        self.delta_planes = [torch.zeros_like(p).requires_grad_(True) for p in base_planes]

    @property
    def levels(self) -> int:
        return len(self.base_density)

    def tensors(self) -> list[torch.Tensor]:
        """Trainable tensors in a fixed order: density levels, then plane levels."""
        return [*self.delta_density, *self.delta_planes]

    def level_density(
        self, lvl: int, simulate: Simulate | None = None, *, grad: bool = True
    ) -> torch.Tensor:
        """F_l (base + delta, or the track's decoded value under `simulate`); ``grad=False``
        keeps the delta out of the autograd graph (a frozen level: no backward work for it)."""
        d = self.delta_density[lvl] if grad else self.delta_density[lvl].detach()
        if simulate is not None:
            d = simulate("density", lvl, d)
        return self.base_density[lvl] + d

    def level_planes(
        self, lvl: int, simulate: Simulate | None = None, *, grad: bool = True
    ) -> torch.Tensor:
        """As `level_density`, for the level's three planes."""
        p = self.delta_planes[lvl] if grad else self.delta_planes[lvl].detach()
        if simulate is not None:
            p = simulate("planes", lvl, p)
        return self.base_planes[lvl] + p

    def composed(
        self, lod: int, simulate: Simulate | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Density and planes of LOD `lod` (1-based) on its finest lattice, under autograd."""
        dens = [self.level_density(i, simulate) for i in range(lod)]
        planes = [self.level_planes(i, simulate) for i in range(lod)]
        return compose_density(dens), compose_planes(planes)

    @torch.no_grad()
    def current(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """F_l per level (detached copies)."""
        return (
            [(b + d).detach().clone() for b, d in zip(self.base_density, self.delta_density)],
            [(b + d).detach().clone() for b, d in zip(self.base_planes, self.delta_planes)],
        )

    @torch.no_grad()
    def residuals(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return (
            [d.detach().clone() for d in self.delta_density],
            [p.detach().clone() for p in self.delta_planes],
        )
