"""The sequence header (JSON in the file) as a typed, validated dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from codec.errors import FormatError
from codec.field.config import FieldConfig, RenderParams

from .format import Limits

MLP_DTYPES = {"f16": "<f2", "f32": "<f4"}
"""`mlp_dtype` values and the little-endian numpy dtype each stores the MLP in."""


@dataclass(frozen=True)
class ClipHeader:
    """Everything a decoder needs before the first chunk (docs/FORMAT.md, "Sequence header")."""

    frames: int
    fps: float
    gof: int
    tracks: int
    channels: int
    density_res: tuple[int, ...]
    plane_res: tuple[int, ...]
    hidden: tuple[int, ...]
    render: RenderParams
    aabb: tuple[tuple[float, float, float], tuple[float, float, float]]
    background: tuple[float, float, float]
    cameras: list[dict[str, Any]] = field(default_factory=list)
    mlp_dtype: str = "f16"
    """How the GoF chunk stores the MLP: "f16" (IEEE half, since format 1.1) or "f32" (files
    written before it, whose headers lack the key). Half precision halves the MLP's share of
    every operating point and moved figure128's test PSNR by < 0.001 dB (docs/FORMAT.md)."""

    @property
    def levels(self) -> int:
        return len(self.density_res)

    @property
    def symbol_channels(self) -> int:
        return 1 + self.channels

    @property
    def gofs(self) -> int:
        return -(-self.frames // self.gof)

    def gof_of(self, frame: int) -> int:
        return frame // self.gof

    def gof_frames(self, g: int) -> range:
        return range(g * self.gof, min(self.frames, (g + 1) * self.gof))

    def field_config(self) -> FieldConfig:
        return FieldConfig(
            density_res=self.density_res,
            plane_res=self.plane_res,
            channels=self.channels,
            hidden=self.hidden,
            render=self.render,
        )

    def mlp_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each layer: in = 3C + view encoding, hidden widths, out = 3 (RGB)."""
        dims = [3 * self.channels + 3 + 6 * self.render.view_freqs, *self.hidden, 3]
        return list(zip(dims[1:], dims[:-1]))

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "fps": self.fps,
            "gof": self.gof,
            "levels": self.levels,
            "tracks": self.tracks,
            "channels": self.channels,
            "density_res": list(self.density_res),
            "plane_res": list(self.plane_res),
            "hidden": list(self.hidden),
            "render": self.render.to_dict(),
            "aabb": [list(self.aabb[0]), list(self.aabb[1])],
            "background": list(self.background),
            "cameras": self.cameras,
            "mlp_dtype": self.mlp_dtype,
        }

    @staticmethod
    def from_json(d: Any) -> ClipHeader:
        """Validate every field against `Limits` and the nesting rules; FormatError if bad."""
        try:
            if not isinstance(d, dict):
                raise FormatError("header is not a JSON object")

            def num(key: str, lo: float, hi: float, integer: bool = True) -> Any:
                v = d[key]
                ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
                if isinstance(v, bool) or not ok_type or not (lo <= v <= hi):
                    raise FormatError(f"header field {key!r} = {v!r} outside [{lo}, {hi}]")
                return v

            def int_list(key: str, lo: int, hi: int, max_len: int) -> tuple[int, ...]:
                v = d[key]
                if not isinstance(v, list) or not 1 <= len(v) <= max_len:
                    raise FormatError(f"header field {key!r} must be a list of 1..{max_len}")
                for x in v:
                    if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= hi:
                        raise FormatError(f"header field {key!r} has a bad entry {x!r}")
                return tuple(v)

            def floats(v: Any, n: int, key: str) -> tuple[float, ...]:
                if not isinstance(v, list) or len(v) != n:
                    raise FormatError(f"header field {key!r} must hold {n} numbers")
                out = []
                for x in v:
                    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                        raise FormatError(f"header field {key!r} has a bad number {x!r}")
                    out.append(float(x))
                return tuple(out)

            r = d["render"]
            if not isinstance(r, dict):
                raise FormatError("header field 'render' must be an object")
            vf = r["view_freqs"]
            if isinstance(vf, bool) or not isinstance(vf, int) or not 0 <= vf <= Limits.VIEW_FREQS:
                raise FormatError("header render.view_freqs out of range")
            rvals = {k: floats([r[k]], 1, f"render.{k}")[0]
                     for k in ("density_shift", "step_ratio", "occupancy_threshold")}
            if rvals["step_ratio"] <= 0:
                raise FormatError("header render.step_ratio must be > 0")
            floor = r.get("step_floor_res", 0)  # absent in files written before it existed
            if isinstance(floor, bool) or not isinstance(floor, int) or not (
                floor == 0 or 2 <= floor <= Limits.DENSITY_RES
            ):
                raise FormatError("header render.step_floor_res must be 0 or 2..DENSITY_RES")
            render = RenderParams(view_freqs=vf, step_floor_res=floor, **rvals)
            aabb_raw = d["aabb"]
            if not isinstance(aabb_raw, list) or len(aabb_raw) != 2:
                raise FormatError("header field 'aabb' must be [[x,y,z],[x,y,z]]")
            lo = floats(aabb_raw[0], 3, "aabb")
            hi = floats(aabb_raw[1], 3, "aabb")
            if any(b <= a for a, b in zip(lo, hi)):
                raise FormatError("header aabb is empty")
            cams = d.get("cameras", [])
            if not isinstance(cams, list) or len(cams) > Limits.CAMERAS:
                raise FormatError("header field 'cameras' must be a list")
            if any(not isinstance(c, dict) for c in cams):
                raise FormatError("header cameras must be objects")
            mlp_dtype = d.get("mlp_dtype", "f32")  # absent in files written before format 1.1
            if mlp_dtype not in MLP_DTYPES:
                raise FormatError(f"header mlp_dtype must be one of {sorted(MLP_DTYPES)}")
            h = ClipHeader(
                frames=num("frames", 1, Limits.FRAMES),
                fps=float(num("fps", 1e-3, 1e4, integer=False)),
                gof=num("gof", 1, Limits.GOF),
                tracks=num("tracks", 1, Limits.TRACKS),
                channels=num("channels", 1, Limits.CHANNELS),
                density_res=int_list("density_res", 2, Limits.DENSITY_RES, Limits.LEVELS),
                plane_res=int_list("plane_res", 2, Limits.PLANE_RES, Limits.LEVELS),
                hidden=int_list("hidden", 1, Limits.HIDDEN, Limits.LAYERS),
                render=render,
                aabb=(lo, hi),  # type: ignore[arg-type]
                background=floats(d["background"], 3, "background"),  # type: ignore[arg-type]
                cameras=cams,
                mlp_dtype=mlp_dtype,
            )
            if d.get("levels", h.levels) != h.levels:
                raise FormatError("header 'levels' disagrees with density_res")
            try:
                h.field_config().validate()
            except ValueError as exc:
                raise FormatError(f"header grid shapes invalid: {exc}") from None
            return h
        except KeyError as exc:
            raise FormatError(f"header field {exc} missing") from None
        except TypeError as exc:
            raise FormatError(f"header malformed: {exc}") from None
