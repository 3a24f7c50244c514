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
    step_floor_res: int = 0
    """The spacing is never coarser than step_ratio x the voxel of a lattice with this many
    points per axis (0: each LOD steps by its own finest voxel). A coarse LOD's planes carry
    more detail than its density lattice can sample: on figure128, LOD 1 stepped at 49 points
    instead of 13 gained up to 2.9 dB (docs/DECISIONS.md). Files written before this
    field existed behave as 0."""
    view_freqs: int = 2
    """Frequencies of the view-direction encoding (3 + 6F inputs)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FieldConfig:
    """Shape of the field: per-level resolutions, feature channels and the shared MLP."""

    density_res: tuple[int, ...] = (25, 25, 49, 97)
    """Density lattice points per axis, per level (corner-aligned, nested: (n_next-1) a multiple
    of (n-1); a level may repeat the previous lattice). Four strictly nested levels ending at 97
    leave at most 13 points for level 1, and LOD 1's geometry was what held it back: level 2
    refining level 1's 25-point lattice lifted figure128's I-frame LOD 1 31.5 -> 34.9 dB (full
    38.4 -> 38.6, full - LOD 1 6.9 -> 3.6 dB; docs/TRAINING.md, session 5)."""
    plane_res: tuple[int, ...] = (65, 81, 97, 129)
    """Tri-plane lattice points per axis, per level (corner-aligned, increasing; need not nest).
    Level 1 gets most of the colour detail so LOD 1 alone shows the object: on figure128 the
    nested (17, 33, 65, 129) gave LOD 1 28.0 dB / full 37.0, this ladder 31.5 / 38.3 dB
    (I-frame, docs/DECISIONS.md)."""
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
        # Density lattices must nest: the training renderer samples the levels one by one and
        # sums them, the players sample the composed lattice, and the two agree only when a
        # coarse lattice's trilinear function is trilinear inside every finer cell; the
        # visual-hull start pools the finest hull with an integer stride. A level may repeat
        # the previous lattice (factor 1 nests too). Plane lattices only increase: composition
        # resamples them bilinearly onto the finest one (docs/RENDERING.md).
        for a, b in zip(self.density_res, self.density_res[1:]):
            if a < 2 or b < a or (b - 1) % (a - 1):
                raise ValueError(
                    "density_res must not decrease and must nest ((n_next-1) multiple of "
                    f"(n-1)): {self.density_res}"
                )
        for a, b in zip(self.plane_res, self.plane_res[1:]):
            if a < 2 or b <= a:
                raise ValueError(f"plane_res must increase: {self.plane_res}")
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
