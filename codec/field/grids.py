"""`FrameGrids`: the one type training, the decoder and both renderers exchange."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .config import RenderParams

MLPWeights = list[tuple[torch.Tensor, torch.Tensor]]
"""The GoF's colour MLP: (W[out, in], b[out]) per layer, hidden layers ReLU, last sigmoid."""


@dataclass
class FrameGrids:
    """One frame's grids at some LOD (levels 1..lod) plus the GoF's MLP and the scene box.

    ``density[j]`` has shape (n, n, n) indexed [z][y][x]; ``planes[j]`` has shape (3, C, m, m)
    (planes xy, xz, yz). See docs/RENDERING.md for the maths.
    """

    density: list[torch.Tensor]
    planes: list[torch.Tensor]
    mlp: MLPWeights
    aabb: torch.Tensor
    params: RenderParams = field(default_factory=RenderParams)
    _composed: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.density) != len(self.planes) or not self.density:
            raise ValueError("FrameGrids needs the same (>= 1) number of density and plane levels")

    @property
    def lod(self) -> int:
        return len(self.density)

    @property
    def device(self) -> torch.device:
        return self.density[0].device

    @property
    def channels(self) -> int:
        return int(self.planes[0].shape[1])

    def at_lod(self, lod: int) -> FrameGrids:
        """The same frame restricted to levels 1..lod."""
        if not 1 <= lod <= self.lod:
            raise ValueError(f"lod must be 1..{self.lod}, got {lod}")
        return FrameGrids(self.density[:lod], self.planes[:lod], self.mlp, self.aabb, self.params)

    def to(self, device: torch.device | str) -> FrameGrids:
        return FrameGrids(
            [d.to(device) for d in self.density],
            [p.to(device) for p in self.planes],
            [(w.to(device), b.to(device)) for w, b in self.mlp],
            self.aabb.to(device),
            self.params,
        )

    def detach(self) -> FrameGrids:
        return FrameGrids(
            [d.detach() for d in self.density],
            [p.detach() for p in self.planes],
            [(w.detach(), b.detach()) for w, b in self.mlp],
            self.aabb.detach(),
            self.params,
        )

    def composed(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Levels summed onto the finest used lattice (cached; for no-grad use)."""
        if self._composed is None:
            from .compose import compose_density, compose_planes

            with torch.no_grad():
                self._composed = (compose_density(self.density), compose_planes(self.planes))
        return self._composed
