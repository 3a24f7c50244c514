"""The stable JSON description of a clip that `fieldcast info --json` prints (docs/FORMAT.md)."""

from __future__ import annotations

from typing import Any

from codec.container.reader import FcvFile

INFO_SCHEMA = 1


def clip_info(f: FcvFile, file_bytes: int) -> dict[str, Any]:
    h = f.header
    points = []
    for p in f.operating_points():
        if not isinstance(p, dict):
            continue
        points.append(
            {
                "track": p.get("track"),
                "level": p.get("level"),
                "bytes_per_frame": p.get("bytes_per_frame"),
                "kbit_per_second": (
                    p["bytes_per_frame"] * 8 * h.fps / 1000
                    if isinstance(p.get("bytes_per_frame"), (int, float))
                    else None
                ),
                "psnr": p.get("psnr"),
                "ssim": p.get("ssim"),
            }
        )
    return {
        "schema": INFO_SCHEMA,
        "version": f"{f.version[0]}.{f.version[1]}",
        "frames": h.frames,
        "fps": h.fps,
        "gof": h.gof,
        "gofs": h.gofs,
        "levels": h.levels,
        "tracks": h.tracks,
        "channels": h.channels,
        "density_res": list(h.density_res),
        "plane_res": list(h.plane_res),
        "hidden": list(h.hidden),
        "mlp_dtype": h.mlp_dtype,
        "aabb": [list(h.aabb[0]), list(h.aabb[1])],
        "background": list(h.background),
        "render": h.render.to_dict(),
        "cameras": h.cameras,
        "file_size": f.file_size,
        "bytes_present": file_bytes,
        "truncated": file_bytes < f.file_size,
        "operating_points": points,
        "encoder": f.meta.get("encoder", {}),
    }
