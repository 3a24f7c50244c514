"""Typed configuration of the hierarchical tri-plane field and of its rendering constants."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class RenderParams:
    """Constants of the rendering maths (docs/RENDERING.md); stored in every clip."""

    density_shift: float = -4.0
    """Added to the summed raw density before softplus; sets the density of an all-zero grid."""
    step_ratio: float = 1.0
    """Sample spacing as a fraction of the finest used density voxel. On figure128 1.0 trained
    to the same full-LOD PSNR as 0.5 (I-frame 37.09 dB both; P-frames 33.5 vs 33.4 dB) for ~30%
    less compute per step, and halves the players' samples (docs/TRAINING.md)."""
    occupancy_threshold: float = 1e-6
    """A cell whose largest possible sigma*step stays below this is skipped."""
    view_freqs: int = 2
    """Frequencies of the view-direction encoding (3 + 6F inputs)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FieldConfig:
    """Shape of the field: per-level resolutions, feature channels and the shared MLP."""

    density_res: tuple[int, ...] = (13, 25, 49, 97)
    """Density lattice points per axis, per level (corner-aligned, nested)."""
    plane_res: tuple[int, ...] = (17, 33, 65, 129)
    """Tri-plane lattice points per axis, per level (corner-aligned, nested)."""
    channels: int = 8
    """Feature channels C per plane; the MLP sees 3C accumulated features."""
    hidden: tuple[int, ...] = (32, 32)
    """Hidden layer widths of the GoF's colour MLP."""
    render: RenderParams = field(default_factory=RenderParams)

    @property
    def levels(self) -> int:
        return len(self.density_res)

    @property
    def feature_dim(self) -> int:
        return 3 * self.channels

    @property
    def view_dim(self) -> int:
        return 3 + 6 * self.render.view_freqs

    def validate(self) -> FieldConfig:
        if len(self.density_res) != len(self.plane_res):
            raise ValueError("density_res and plane_res need one entry per level")
        if not 1 <= self.levels <= 6:
            raise ValueError(f"levels must be 1..6, got {self.levels}")
        for name, res in (("density_res", self.density_res), ("plane_res", self.plane_res)):
            for a, b in zip(res, res[1:]):
                if a < 2 or b <= a or (b - 1) % (a - 1):
                    raise ValueError(
                        f"{name} must increase and nest ((n_next-1) multiple of (n-1)): {res}"
                    )
        if self.channels < 1 or not self.hidden:
            raise ValueError("channels >= 1 and at least one hidden layer are required")
        return self

    @staticmethod
    def nested(levels: int, density_base: int, plane_base: int, **kw) -> FieldConfig:
        """Resolutions base*2^l + 1 for l = 0..levels-1 (always nested)."""
        return FieldConfig(
            density_res=tuple(density_base * 2**i + 1 for i in range(levels)),
            plane_res=tuple(plane_base * 2**i + 1 for i in range(levels)),
            **kw,
        ).validate()
