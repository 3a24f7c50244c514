"""Range coding of symbol channels: round trip, escapes, zero blocks, gap to the ideal length."""

from __future__ import annotations

import numpy as np
import pytest

from codec.entropy.coder import decode_channels, encode_channels
from codec.entropy.tables import TOTAL, IntTable, fit_table, quantize_counts
from codec.entropy.varint import ByteReader
from codec.errors import FormatError


def _channels(rng: np.random.Generator, scale: float = 2.0) -> list[np.ndarray]:
    d = np.round(rng.laplace(0, scale, (17, 17, 17))).astype(np.int32)
    d[:8] = 0  # whole empty blocks
    p = [np.round(rng.laplace(0, scale / 2, (3, 17, 17))).astype(np.int32) for _ in range(2)]
    return [d, *p]


def _tables(chans: list[np.ndarray]) -> list[IntTable]:
    return [fit_table(c.reshape(-1)) for c in chans]


def test_round_trip_and_gap_to_ideal() -> None:
    chans = _channels(np.random.default_rng(0))
    tables = _tables(chans)
    payload, st = encode_channels(chans, tables)
    out = decode_channels(payload, tables, [c.shape for c in chans], "test")
    assert all(np.array_equal(a, b) for a, b in zip(out, chans))
    assert st.coded_bytes <= 1.02 * (st.ideal_bits / 8 + st.raw_bytes) + 4


def test_escape_path_codes_values_outside_the_table() -> None:
    rng = np.random.default_rng(1)
    chans = _channels(rng)
    tables = _tables(chans)
    # Values far outside every table, including the int32 extremes: never clamped.
    chans[0][10, 10, 10] = 2**31 - 1
    chans[1][0, 16, 16] = -(2**31)
    chans[2][2, 3, 4] = tables[2].lo - 1
    payload, st = encode_channels(chans, tables)
    assert st.escapes >= 3
    out = decode_channels(payload, tables, [c.shape for c in chans], "test")
    assert all(np.array_equal(a, b) for a, b in zip(out, chans))


def test_all_zero_residual_costs_almost_nothing() -> None:
    rng = np.random.default_rng(2)
    tables = _tables(_channels(rng))
    zeros = [np.zeros((49, 49, 49), np.int32), np.zeros((3, 65, 65), np.int32)]
    payload, _ = encode_channels(zeros, tables[:2])
    assert len(payload) <= 12  # one escape-count byte + a few words for two block counts
    out = decode_channels(payload, tables[:2], [z.shape for z in zeros], "test")
    assert all(not o.any() for o in out)
    # One non-zero voxel only costs its own block.
    one = [z.copy() for z in zeros]
    one[0][20, 20, 20] = 1
    payload1, _ = encode_channels(one, tables[:2])
    assert len(payload1) < 8 * 8 * 8 // 4


def test_integer_tables_round_trip_and_reject_bad_counts() -> None:
    t = fit_table(np.array([0, 0, 1, -3, 7], np.int32))
    back = IntTable.read(ByteReader(t.to_bytes()))
    assert back.lo == t.lo and np.array_equal(back.counts, t.counts)
    assert int(t.counts.sum()) == TOTAL and t.counts.min() >= 1
    bad = IntTable(t.lo, t.counts.copy())
    bad.counts[0] += 1
    with pytest.raises(FormatError):
        IntTable.read(ByteReader(bad.to_bytes()))
    q = quantize_counts(np.array([1e9, 1, 0, 0, 3.0] + [0.0] * 5000))
    assert int(q.sum()) == TOTAL and q.min() >= 1


def test_corrupt_stream_is_a_format_error() -> None:
    chans = _channels(np.random.default_rng(3))
    tables = _tables(chans)
    payload, _ = encode_channels(chans, tables)
    with pytest.raises(FormatError):
        decode_channels(payload[:-3], tables, [c.shape for c in chans], "test")
    with pytest.raises(FormatError):
        decode_channels(b"\x05\x01", tables, [c.shape for c in chans], "test")
