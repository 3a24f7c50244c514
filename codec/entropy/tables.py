"""Integer probability tables: what the coder uses and what the file stores.

A table covers the symbol values ``lo .. lo + n - 1`` (entry i is value lo + i) plus one
**escape** entry (index n) for any other value; the escaped value itself is stored raw in the
chunk (zigzag varint). Counts are positive integers that sum to exactly ``2**PRECISION``:
encoder and decoder build the same constriction model from the same integers, and the ideal code
length of a symbol is ``-log2(count / 2**PRECISION)``.

Tables are fitted to the actual symbols (measured better than exporting the learned float
model: the fitted table is the empirical distribution, so the only loss is the 16-bit
quantization of the counts plus the table bytes; see docs/FORMAT.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codec.errors import FormatError

from .varint import ByteReader, split_varints, unzigzag, write_svarint, write_uvarint

PRECISION = 16
TOTAL = 1 << PRECISION
MAX_ALPHABET = 4096
"""Largest n (entries before the escape); wider tails go through the escape path."""
FAST_TABLES_WINDOW = 1 << 18
"""Bytes `read_tables` splits in one vectorised pass (the largest legal tables chunk, 18
channels of 4097 entries, is ~220 KB); longer runs take the sequential path."""
ESCAPE_BYTES = 2.0
"""Rough cost in bytes of one escaped value (escape symbol + varint), for range trimming."""


@dataclass(frozen=True)
class IntTable:
    lo: int
    counts: np.ndarray
    """int64 (n + 1,): counts of lo..lo+n-1 then the escape; all >= 1, sum == TOTAL."""

    @property
    def n(self) -> int:
        return int(self.counts.shape[0]) - 1

    def probabilities(self) -> np.ndarray:
        """float64 probabilities (exact: counts / 2^16) for constriction's Categorical."""
        return self.counts.astype(np.float64) / TOTAL

    def index_of(self, symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(table indices int32, escaped values int32) for int32 symbols."""
        rel = symbols.astype(np.int64) - self.lo
        inside = (rel >= 0) & (rel < self.n)
        idx = np.where(inside, rel, self.n).astype(np.int32)
        return idx, symbols[~inside].astype(np.int32)

    def bits(self, idx: np.ndarray) -> float:
        """Ideal code length in bits of table indices under this table."""
        if idx.size == 0:
            return 0.0
        hist = np.bincount(idx, minlength=self.n + 1)
        used = hist > 0
        return float(-(hist[used] * np.log2(self.counts[used] / TOTAL)).sum())

    def to_bytes(self) -> bytes:
        out = bytearray()
        write_svarint(out, self.lo)
        write_uvarint(out, self.n)
        for c in self.counts.tolist():
            write_uvarint(out, int(c))
        return bytes(out)

    @staticmethod
    def read(reader: ByteReader) -> IntTable:
        lo = reader.svarint()
        n = reader.uvarint(MAX_ALPHABET)
        if n < 1:
            raise FormatError(f"{reader.what}: empty table")
        counts = reader.uvarints(n + 1, TOTAL)
        if counts.min() < 1 or int(counts.sum()) != TOTAL:
            raise FormatError(f"{reader.what}: table counts must be >= 1 and sum to {TOTAL}")
        return IntTable(lo, counts)


def read_tables(reader: ByteReader, count: int) -> list[IntTable]:
    """``count`` consecutive tables, exactly as ``count`` calls of `IntTable.read` would read
    them: the same tables, or the same FormatError. A table is nothing but varints, so they
    are split in one vectorised pass and only the structure is walked in Python (a player
    parses ~20 tables per level and GoF); anything unusual re-reads sequentially, which
    raises `IntTable.read`'s own error."""
    start = reader.pos
    tables = _read_tables_fast(reader, count)
    if tables is None:
        reader.pos = start
        tables = [IntTable.read(reader) for _ in range(count)]
    return tables


def _read_tables_fast(reader: ByteReader, count: int) -> list[IntTable] | None:
    split = split_varints(reader.peek(FAST_TABLES_WINDOW), (MAX_ALPHABET + 3) * count)
    if split is None:
        return None
    values, ends = split
    tables, i = [], 0
    for _ in range(count):
        if i + 2 > values.size:
            return None
        u_lo, n = int(values[i]), int(values[i + 1])
        lo = unzigzag(u_lo)
        if u_lo > 2**32 or not -(2**31) <= lo < 2**31 or not 1 <= n <= MAX_ALPHABET:
            return None
        j = i + 3 + n
        if j > values.size:
            return None
        counts = values[i + 2 : j].copy()
        if int(counts.min()) < 1 or int(counts.max()) > TOTAL or int(counts.sum()) != TOTAL:
            return None
        tables.append(IntTable(lo, counts))
        i = j
    reader.pos += int(ends[i - 1]) if i else 0
    return tables


def trim_range(values: np.ndarray, counts: np.ndarray) -> tuple[int, int]:
    """Drop sparse tails whose table entries (~1 byte each) would cost more than escaping them."""
    i, j = 0, len(values) - 1
    while i < j:
        # Bytes saved by dropping the outermost value on each side (gap entries vanish, its
        # occurrences are escaped instead).
        save_lo = (values[i + 1] - values[i]) - ESCAPE_BYTES * counts[i]
        save_hi = (values[j] - values[j - 1]) - ESCAPE_BYTES * counts[j]
        too_wide = values[j] - values[i] + 1 > MAX_ALPHABET
        if max(save_lo, save_hi) <= 0 and not too_wide:
            break
        if save_lo >= save_hi:
            i += 1
        else:
            j -= 1
    return int(values[i]), int(values[j])


def quantize_counts(freq: np.ndarray) -> np.ndarray:
    """Positive integer counts summing to TOTAL, close to the frequencies ``freq`` (>= 0)."""
    freq = freq.astype(np.float64)
    total = freq.sum()
    if total <= 0:
        freq = np.ones_like(freq)
        total = freq.sum()
    q = np.maximum(1, np.floor(freq / total * TOTAL)).astype(np.int64)
    diff = TOTAL - int(q.sum())
    if diff > 0:
        # Give the remainder to the largest fractional parts (largest remainder method).
        frac = freq / total * TOTAL - np.floor(freq / total * TOTAL)
        order = np.argsort(-frac, kind="stable")
        q[order[: diff % len(q)]] += 1
        q += diff // len(q)
    # Too many entries were lifted to 1: take the excess from the largest counts.
    for k in np.argsort(-q, kind="stable"):
        if diff >= 0:
            break
        take = min(-diff, int(q[k]) - 1)
        q[k] -= take
        diff += take
    assert int(q.sum()) == TOTAL and q.min() >= 1
    return q


def fit_table(symbols: np.ndarray) -> IntTable:
    """Fit an integer table to int32 symbols (empty input gives a valid table around 0)."""
    if symbols.size == 0:
        return IntTable(0, quantize_counts(np.array([1.0, 0.0])))
    values, counts = np.unique(symbols.astype(np.int64), return_counts=True)
    lo, hi = trim_range(values, counts)
    n = hi - lo + 1
    freq = np.zeros(n + 1, dtype=np.float64)
    inside = (values >= lo) & (values <= hi)
    freq[values[inside] - lo] = counts[inside]
    freq[n] = counts[~inside].sum()
    return IntTable(lo, quantize_counts(freq))
