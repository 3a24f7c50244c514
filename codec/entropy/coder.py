"""Range coding of one chunk's symbol channels with constriction, zero-block flags and escapes.

Chunk payload (see docs/FORMAT.md, "Frame chunk"):

    uvarint  n_escapes
    n_escapes x svarint   escaped symbol values, in coding order
    u32 LE words          constriction RangeEncoder output (the rest of the chunk)

The range-coded stream holds, for every symbol channel in order:
1. ``k`` = number of non-zero blocks, with near-uniform integer counts over 0..n_blocks;
2. if 0 < k < n_blocks: one flag per block (raster order), Categorical with
   p(1) = clamp(round(k * 2^16 / n_blocks), 1, 2^16 - 1) / 2^16 (integer arithmetic);
Every model is an integer table of counts summing to 2^16, given to constriction so that its
24-bit probabilities are exactly 256 * count (`exact_model`).
3. the symbols of the elements inside non-zero blocks, raster order, as table indices
   (escape index n for values outside the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import constriction
import numpy as np

from codec.errors import FormatError

from .tables import TOTAL, IntTable
from .varint import ByteReader, write_svarint, write_uvarint

BLOCK = 8
"""Edge of a zero-flag block: 8^3 voxels for the density, 8x8 tiles for each plane."""

_model = constriction.stream.model
_queue = constriction.stream.queue


def block_grid(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Flag grid of a channel tensor: density (n,n,n) -> 3-D blocks; planes (3,m,m) -> tiles."""
    if _is_plane(shape):
        return (3, -(-shape[1] // BLOCK), -(-shape[2] // BLOCK))
    return tuple(-(-s // BLOCK) for s in shape)


def _is_plane(shape: tuple[int, ...]) -> bool:
    """Planes of one channel are (3, m, m); a density grid is (n, n, n). n = 3 counts as density
    (both sides of the codec use this same rule, so the ambiguity cannot desynchronize them)."""
    return len(shape) == 3 and shape[0] == 3 and shape[1] != 3


def block_flags(sym: np.ndarray) -> np.ndarray:
    """Bool flag per block: True if any symbol of the block is non-zero."""
    nz = sym != 0
    if _is_plane(sym.shape):
        _, m, _ = sym.shape
        b = -(-m // BLOCK)
        pad = np.zeros((3, b * BLOCK, b * BLOCK), dtype=bool)
        pad[:, :m, :m] = nz
        return pad.reshape(3, b, BLOCK, b, BLOCK).any(axis=(2, 4))
    n = sym.shape[0]
    b = -(-n // BLOCK)
    pad = np.zeros((b * BLOCK,) * 3, dtype=bool)
    pad[:n, :n, :n] = nz
    return pad.reshape(b, BLOCK, b, BLOCK, b, BLOCK).any(axis=(1, 3, 5))


def element_mask(flags: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Expand block flags to a bool mask of the channel's elements."""
    if _is_plane(shape):
        m = shape[1]
        full = flags.repeat(BLOCK, axis=1).repeat(BLOCK, axis=2)
        return full[:, :m, :m]
    n = shape[0]
    full = flags.repeat(BLOCK, axis=0).repeat(BLOCK, axis=1).repeat(BLOCK, axis=2)
    return full[:n, :n, :n]


def flag_probability(k: int, n_blocks: int) -> int:
    """Integer count (of 2^16) of a non-zero flag."""
    return max(1, min(TOTAL - 1, (k * TOTAL + n_blocks // 2) // n_blocks))


def exact_model(counts: np.ndarray):
    """A constriction model whose 24-bit probabilities are exactly ``256 * counts`` (counts sum
    to 2^16). constriction's fast quantization puts the left CDF of entry i at
    ``floor(F_i * (2^24 - n) / Σw) + i`` for weights w; with ``w = 256 * counts - 1`` the scale
    is exactly 1 and F_i = 256 * C_i - i (integers, exact in float), so the CDF is 256 * C_i."""
    weights = counts.astype(np.float64) * 256.0 - 1.0
    return _model.Categorical(weights, perfect=False)


def _categorical(table: IntTable):
    return exact_model(table.counts)


@lru_cache(maxsize=64)
def _uniform_model(size: int):
    """Counts as equal as possible over 0..size-1 (the first TOTAL % size entries get one more)."""
    counts = np.full(size, TOTAL // size, dtype=np.int64)
    counts[: TOTAL % size] += 1
    return exact_model(counts), counts


def _uniform_bits(value: int, size: int) -> float:
    counts = _uniform_model(size)[1]
    return float(-np.log2(counts[value] / TOTAL))


@lru_cache(maxsize=4096)
def _flag_model(k: int, n_blocks: int):
    p1 = flag_probability(k, n_blocks)
    return exact_model(np.array([TOTAL - p1, p1], dtype=np.int64))


@dataclass
class ChunkStats:
    ideal_bits: float
    """Ideal code length of the range-coded part under the chunk's own tables."""
    raw_bytes: int
    """Bytes of the escape section (stored raw)."""
    coded_bytes: int
    """Total chunk payload bytes."""
    symbols: int
    escapes: int
    empirical_bits: float = 0.0


def encode_channels(symbols: list[np.ndarray], tables: list[IntTable]) -> tuple[bytes, ChunkStats]:
    """Code one chunk: int32 symbol tensors per channel with their tables."""
    enc = _queue.RangeEncoder()
    escapes: list[np.ndarray] = []
    ideal = 0.0
    n_sym = 0
    for sym, table in zip(symbols, tables, strict=True):
        sym = np.ascontiguousarray(sym, dtype=np.int32)
        flags = block_flags(sym)
        nb = flags.size
        k = int(flags.sum())
        enc.encode(np.array([k], dtype=np.int32), _uniform_model(nb + 1)[0])
        ideal += _uniform_bits(k, nb + 1)
        if 0 < k < nb:
            f = flags.reshape(-1).astype(np.int32)
            enc.encode(f, _flag_model(k, nb))
            p1 = flag_probability(k, nb)
            ideal += -(k * np.log2(p1 / TOTAL) + (nb - k) * np.log2((TOTAL - p1) / TOTAL))
        if k:
            values = sym[element_mask(flags, sym.shape)]
            idx, esc = table.index_of(values)
            if idx.size:
                enc.encode(idx, _categorical(table))
                ideal += table.bits(idx)
                n_sym += idx.size
            escapes.append(esc)
    head = bytearray()
    esc_all = np.concatenate(escapes) if escapes else np.zeros(0, np.int32)
    write_uvarint(head, int(esc_all.size))
    for v in esc_all.tolist():
        write_svarint(head, int(v))
    words = enc.get_compressed().astype("<u4").tobytes()
    payload = bytes(head) + words
    return payload, ChunkStats(ideal, len(head), len(payload), n_sym, int(esc_all.size))


@lru_cache(maxsize=64)
def _block_edges(size: int) -> np.ndarray:
    """Length of each block along an axis of ``size`` elements (the last one may be short)."""
    out = np.minimum(BLOCK, size - BLOCK * np.arange(-(-size // BLOCK)))
    out.flags.writeable = False
    return out


@lru_cache(maxsize=32)
def _block_sizes(shape: tuple[int, ...]) -> np.ndarray:
    """int32 elements of each block (flat, raster order of the flag grid); edge blocks are
    smaller. int32 is plenty: channels are far below 2^31 elements (container Limits)."""
    if _is_plane(shape):
        tile = np.multiply.outer(_block_edges(shape[1]), _block_edges(shape[2]))
        out = np.broadcast_to(tile, (3, *tile.shape))
    else:
        e = [_block_edges(s) for s in shape]
        out = np.multiply.outer(np.multiply.outer(e[0], e[1]), e[2])
    out = out.reshape(-1).astype(np.int32)
    out.flags.writeable = False
    return out


def _mask_repeats(shape: tuple[int, ...]) -> tuple[tuple[int, np.ndarray], ...]:
    """(axis, block edges) repeats that turn a flag grid into its element mask, last axis
    first: no padding and no slicing, so the mask comes out C-contiguous (boolean indexing with
    a contiguous mask is about twice as fast as with `element_mask`'s sliced view)."""
    first = 1 if _is_plane(shape) else 0
    return tuple((ax, _block_edges(shape[ax])) for ax in range(len(shape) - 1, first - 1, -1))


def _expand_flags(flags: np.ndarray, repeats: tuple[tuple[int, np.ndarray], ...]) -> np.ndarray:
    for axis, edges in repeats:
        flags = flags.repeat(edges, axis=axis)
    return flags


@dataclass(frozen=True)
class ChannelPlan:
    """Everything decoding one symbol channel needs besides the payload, built once per table
    (constriction models cost microseconds each: a player must not rebuild them per frame)."""

    shape: tuple[int, ...]
    grid: tuple[int, ...]
    n_blocks: int
    size: int
    block_sizes: np.ndarray
    repeats: tuple[tuple[int, np.ndarray], ...]
    lo: np.int32
    escape: int
    """Table index of the escape symbol (= table.n)."""
    count_model: object
    symbol_model: object


@dataclass(frozen=True)
class _ShapeInfo:
    grid: tuple[int, ...]
    n_blocks: int
    size: int
    block_sizes: np.ndarray
    repeats: tuple[tuple[int, np.ndarray], ...]
    count_model: object


@lru_cache(maxsize=32)
def _shape_info(shape: tuple[int, ...]) -> _ShapeInfo:
    grid = block_grid(shape)
    nb = int(np.prod(grid))
    return _ShapeInfo(
        grid, nb, int(np.prod(shape)), _block_sizes(shape), _mask_repeats(shape),
        _uniform_model(nb + 1)[0],
    )


def plan_channels(tables: list[IntTable], shapes: list[tuple[int, ...]]) -> list[ChannelPlan]:
    plans = []
    for table, shape in zip(tables, shapes, strict=True):
        shape = tuple(shape)
        info = _shape_info(shape)
        plans.append(
            ChannelPlan(
                shape=shape,
                grid=info.grid,
                n_blocks=info.n_blocks,
                size=info.size,
                block_sizes=info.block_sizes,
                repeats=info.repeats,
                lo=np.int32(table.lo),
                escape=table.n,
                count_model=info.count_model,
                symbol_model=_categorical(table),
            )
        )
    return plans


def decode_channels(
    payload: bytes | memoryview, tables: list[IntTable], shapes: list[tuple[int, ...]], what: str
) -> list[np.ndarray]:
    """Inverse of `encode_channels`; raises FormatError on any inconsistency."""
    plans = plan_channels(tables, shapes)
    out = [np.zeros(p.shape, dtype=np.int32) for p in plans]
    decode_into(payload, plans, out, what, add=False)
    return out


def decode_into(
    payload: bytes | memoryview,
    plans: list[ChannelPlan],
    out: list[np.ndarray],
    what: str,
    *,
    add: bool,
) -> None:
    """Decode one chunk into ``out``: C-contiguous int32 arrays of the plans' shapes. With
    ``add`` the symbols are added (int32 wrap-around, like the decoder's integer state);
    without it they are written and ``out`` must be all zeros on entry (elements of zero blocks
    are not touched). Raises FormatError on any inconsistency, possibly after part of ``out``
    was written: on error the caller must treat ``out`` as garbage."""
    reader = ByteReader(payload, what)
    n_esc = reader.uvarint(limit=sum(p.size for p in plans))
    esc = reader.svarints(n_esc).astype(np.int32)  # svarints are range-checked to int32
    rest = reader.remaining()
    if rest % 4:
        raise FormatError(f"{what}: coded words are not a multiple of 4 bytes")
    words = np.frombuffer(reader.take(rest), dtype="<u4")
    used_esc = 0
    try:
        dec = _queue.RangeDecoder(words)
        for plan, target in zip(plans, out, strict=True):
            nb = plan.n_blocks
            k = int(dec.decode(plan.count_model))
            if not 0 <= k <= nb:
                raise FormatError(f"{what}: bad block count")
            if k == 0:
                continue
            mask = None
            count = plan.size
            if k < nb:
                flags = dec.decode(_flag_model(k, nb), nb)  # int32 0/1 (a binary model)
                if int(np.count_nonzero(flags)) != k:
                    raise FormatError(f"{what}: block flags disagree with their count")
                count = int(np.dot(flags, plan.block_sizes))
                mask = _expand_flags(flags.reshape(plan.grid).astype(bool), plan.repeats)
            idx = dec.decode(plan.symbol_model, count)
            if count and int(idx.max()) == plan.escape:
                is_esc = idx == plan.escape
                n_here = int(np.count_nonzero(is_esc))
                if used_esc + n_here > n_esc:
                    raise FormatError(f"{what}: more escapes coded than stored")
                idx += plan.lo  # int32 wrap-around, as the int64 sum cast back would give
                idx[is_esc] = esc[used_esc : used_esc + n_here]
                used_esc += n_here
            else:
                idx += plan.lo
            if mask is None:
                if add:
                    target += idx.reshape(plan.shape)
                else:
                    target[...] = idx.reshape(plan.shape)
            elif add:
                # Scatter into zeros then one dense add: ~30 % faster than `target[mask] += idx`
                # (a masked read, add and masked write).
                full = np.zeros(plan.shape, dtype=np.int32)
                full[mask] = idx
                target += full
            else:
                target[mask] = idx
    except FormatError:
        raise
    except Exception as exc:  # constriction reports corrupt streams as ValueError etc.
        raise FormatError(f"{what}: corrupt range-coded data ({exc})") from None
    if used_esc != n_esc:
        raise FormatError(f"{what}: {n_esc - used_esc} stored escapes were never used")
