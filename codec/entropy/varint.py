"""LEB128 varints and zigzag signed mapping, with bounds checks for hostile input."""

from __future__ import annotations

from codec.errors import FormatError


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

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"{self.what}: truncated ({n} bytes wanted, {self.remaining()} left)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out
