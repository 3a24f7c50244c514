"""Decoding .fcv files into FrameGrids."""

from .decoder import Decoder

__all__ = ["Decoder"]
