"""LEB128 varints and zigzag signed mapping, with bounds checks for hostile input."""

from __future__ import annotations

import numpy as np

from codec.errors import FormatError

_MAX_VARINT_BYTES = 6
"""`ByteReader.uvarint` accepts continuation bytes up to a shift of 35: at most 6 bytes."""
_SEQUENTIAL_BELOW = 16
"""Fewer values than this are read one by one: numpy's per-call overhead would dominate."""


def zigzag(v: int) -> int:
    """Signed -> unsigned: 0, -1, 1, -2, 2 ... -> 0, 1, 2, 3, 4 ..."""
    return (v << 1) if v >= 0 else ((-v) << 1) - 1


def unzigzag(u: int) -> int:
    return (u >> 1) if not (u & 1) else -((u + 1) >> 1)


def write_uvarint(out: bytearray, u: int) -> None:
    if u < 0:
        raise ValueError("uvarint must be >= 0")
    while True:
        byte = u & 0x7F
        u >>= 7
        if u:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def write_svarint(out: bytearray, v: int) -> None:
    write_uvarint(out, zigzag(v))


def split_varints(window: np.ndarray, max_count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The complete varints at the start of a uint8 window, at most ``max_count``: (values
    int64, byte offset just after each). None if one of them is longer than `uvarint` allows
    (the caller then reads sequentially and gets `uvarint`'s error)."""
    ends = np.flatnonzero(window < 0x80)[:max_count]
    if ends.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    firsts = np.empty_like(ends)
    firsts[0] = 0
    firsts[1:] = ends[:-1] + 1
    lengths = ends - firsts + 1
    if int(lengths.max()) > _MAX_VARINT_BYTES:
        return None
    used = window[: int(ends[-1]) + 1].astype(np.int64)
    shift = 7 * (np.arange(used.size) - np.repeat(firsts, lengths))  # <= 35: fits int64
    return np.add.reduceat((used & 0x7F) << shift, firsts), ends + 1


class ByteReader:
    """Cursor over a bytes object; every read is bounds-checked and raises FormatError."""

    def __init__(self, data: bytes | memoryview, what: str = "chunk") -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def uvarint(self, limit: int = 2**32 - 1) -> int:
        value, shift = 0, 0
        while True:
            if self.pos >= len(self.data):
                raise FormatError(f"{self.what}: truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 35:
                raise FormatError(f"{self.what}: varint too long")
        if value > limit:
            raise FormatError(f"{self.what}: value {value} exceeds limit {limit}")
        return value

    def svarint(self, limit: int = 2**31) -> int:
        v = unzigzag(self.uvarint(2 * limit))
        if not -limit <= v < limit:
            raise FormatError(f"{self.what}: value {v} out of range")
        return v

    def uvarints(self, count: int, limit: int = 2**32 - 1) -> np.ndarray:
        """``count`` uvarints as int64, exactly as ``count`` calls of `uvarint` would read them.

        Vectorised for the common, well-formed case; anything unusual (truncation, an over-long
        or over-limit varint) re-reads sequentially so the error is the one `uvarint` raises.
        """
        if count > _SEQUENTIAL_BELOW:
            split = split_varints(self.peek(_MAX_VARINT_BYTES * count), count)
            if split is not None and split[0].size == count and int(split[0].max()) <= limit:
                self.pos += int(split[1][-1])
                return split[0]
        return np.array([self.uvarint(limit) for _ in range(count)], dtype=np.int64)

    def svarints(self, count: int, limit: int = 2**31) -> np.ndarray:
        """``count`` svarints as int64, exactly as ``count`` calls of `svarint` would read them."""
        if count <= _SEQUENTIAL_BELOW:
            return np.array([self.svarint(limit) for _ in range(count)], dtype=np.int64)
        start = self.pos
        try:
            u = self.uvarints(count, 2 * limit)
        except FormatError:
            u = None  # a range error may come first: let the sequential read decide
        if u is not None:
            v = np.where(u & 1, -((u + 1) >> 1), u >> 1)
            if not v.size or (int(v.min()) >= -limit and int(v.max()) < limit):
                return v
        self.pos = start
        return np.array([self.svarint(limit) for _ in range(count)], dtype=np.int64)

    def peek(self, n: int) -> np.ndarray:
        """Up to ``n`` of the next bytes as a read-only uint8 array (fewer near the end)."""
        return np.frombuffer(self.data[self.pos : self.pos + max(0, n)], dtype=np.uint8)

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"{self.what}: truncated ({n} bytes wanted, {self.remaining()} left)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out
