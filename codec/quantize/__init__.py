"""Closed-loop quantization with integer accumulation (per rate track, level and channel)."""

from .closed_loop import (
    ChainQuantizer,
    dequantize,
    quantize_frame,
    split_channels,
    symbol_channels,
)

__all__ = ["ChainQuantizer", "dequantize", "quantize_frame", "symbol_channels", "split_channels"]
