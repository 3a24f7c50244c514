"""Device choice: CUDA when present, CPU otherwise, one `device` argument everywhere."""

from __future__ import annotations

import torch


def pick_device(requested: str | None = None) -> torch.device:
    """'auto'/None -> cuda if available else cpu; otherwise the named device."""
    if requested in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(requested)
    if dev.type == "cuda" and not torch.cuda.is_available():
        from .errors import FieldCastError

        raise FieldCastError("--device cuda was asked for but no CUDA device is available")
    return dev
