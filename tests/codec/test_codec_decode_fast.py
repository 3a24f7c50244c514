"""The decoder's fast paths give exactly what the plain, one-value-at-a-time algorithms give:
varints and tables (values, cursor and errors), zero-block masks, in-place accumulation, and
whole decodes of the shipped sample clip against a per-channel reference decoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.container.chunks import unpack_gof, unpack_tables
from codec.container.format import KIND_FRAME, KIND_GOF, KIND_TABLES, ChunkKey
from codec.container.reader import FcvFile, describe
from codec.container.writer import build_fcv
from codec.decode import Decoder
from codec.encode.quantized import level_hash
from codec.entropy.coder import (
    _block_sizes,
    _expand_flags,
    _mask_repeats,
    block_grid,
    decode_channels,
    decode_into,
    element_mask,
    encode_channels,
    plan_channels,
)
from codec.entropy.tables import IntTable, fit_table, read_tables
from codec.entropy.varint import ByteReader, write_svarint, write_uvarint
from codec.errors import FormatError
from codec.quantize.closed_loop import dequantize

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "sample.fcv"


def _outcome(read, data: bytes):  # noqa: ANN001, ANN202
    r = ByteReader(data, "x")
    try:
        value = read(r)
    except FormatError as exc:
        return ("error", str(exc))
    return ("ok", value, r.pos)


varint_bytes = st.one_of(
    st.binary(max_size=80),
    st.lists(st.integers(-(2**40), 2**40), max_size=60).map(
        lambda vs: bytes(_svarints_bytes(vs))
    ),
)


def _svarints_bytes(values: list[int]) -> bytearray:
    out = bytearray()
    for v in values:
        write_svarint(out, v)
    return out


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    data=varint_bytes,
    count=st.integers(0, 60),
    limit=st.sampled_from([100, 65536, 2**31, 2**32 - 1, 2**40]),
    cut=st.integers(0, 80),
)
def test_vectorised_varints_read_like_one_at_a_time(
    data: bytes, count: int, limit: int, cut: int
) -> None:
    data = data[: max(cut, len(data) // 2)]
    seq_u = _outcome(lambda r: [r.uvarint(limit) for _ in range(count)], data)
    vec_u = _outcome(lambda r: r.uvarints(count, limit).tolist(), data)
    assert vec_u == seq_u
    seq_s = _outcome(lambda r: [r.svarint(limit) for _ in range(count)], data)
    vec_s = _outcome(lambda r: r.svarints(count, limit).tolist(), data)
    assert vec_s == seq_s


def _tables_outcome(data: bytes, count: int, fast: bool):  # noqa: ANN202
    def read(r: ByteReader):  # noqa: ANN202
        tables = read_tables(r, count) if fast else [IntTable.read(r) for _ in range(count)]
        return [(t.lo, t.counts.tolist()) for t in tables]

    return _outcome(read, data)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    n_tables=st.integers(1, 6),
    extra=st.integers(-1, 1),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
    cut=st.none() | st.integers(0, 4000),
)
def test_tables_parse_like_one_at_a_time(
    seed: int, n_tables: int, extra: int, edits: list[tuple[int, int]], cut: int | None
) -> None:
    rng = np.random.default_rng(seed)
    tables = [
        fit_table(np.round(rng.laplace(rng.integers(-5, 5), rng.uniform(0.3, 80), 2000)).astype(np.int32))
        for _ in range(n_tables)
    ]
    data = bytearray(b"".join(t.to_bytes() for t in tables))
    for pos, value in edits:
        data[pos % len(data)] = value
    data = bytes(data if cut is None else data[:cut])
    count = max(0, n_tables + extra)
    assert _tables_outcome(data, count, fast=True) == _tables_outcome(data, count, fast=False)


def test_tables_parse_clean_input_and_hostile_sizes() -> None:
    tables = [fit_table(np.arange(-300, 300, dtype=np.int32) // 3) for _ in range(3)]
    data = b"".join(t.to_bytes() for t in tables) + b"\x07"
    r = ByteReader(data)
    back = read_tables(r, 3)
    assert r.remaining() == 1
    assert all(a.lo == b.lo and np.array_equal(a.counts, b.counts) for a, b in zip(back, tables))
    # A table size over the alphabet limit and a count varint that never ends.
    huge = bytearray()
    write_svarint(huge, 0)
    write_uvarint(huge, 10**6)
    with pytest.raises(FormatError, match="exceeds limit"):
        read_tables(ByteReader(bytes(huge)), 1)
    with pytest.raises(FormatError, match="too long"):
        read_tables(ByteReader(b"\x00\x02" + b"\xff" * 40), 1)


@pytest.mark.parametrize(
    "shape", [(49, 49, 49), (3, 65, 65), (7, 7, 7), (3, 9, 9), (3, 3, 3), (8, 8, 8), (3, 1, 1), (1, 1, 1)]
)
def test_contiguous_masks_equal_element_mask(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape))
    for fill in (0.0, 0.2, 0.7, 1.0):
        flags = rng.random(block_grid(shape)) < fill
        mask = _expand_flags(flags, _mask_repeats(shape))
        assert mask.flags.c_contiguous
        assert np.array_equal(mask, element_mask(flags, shape))
        assert int(_block_sizes(shape)[flags.reshape(-1)].sum()) == int(mask.sum())


def test_decode_into_adds_with_int32_wraparound_and_escapes() -> None:
    rng = np.random.default_rng(4)
    shapes = [(17, 17, 17), (3, 17, 17), (3, 17, 17)]
    syms = [np.round(rng.laplace(0, 2, s)).astype(np.int32) for s in shapes]
    syms[0][:8] = 0  # whole zero blocks
    syms[2][:] = 0  # an all-zero channel
    tables = [fit_table(s.reshape(-1)) for s in syms]
    syms[1][0, 16, 16] = -(2**31)  # escaped
    syms[0][10, 10, 10] = 2**31 - 1  # escaped
    payload, stats = encode_channels(syms, tables)
    assert stats.escapes >= 2
    plans = plan_channels(tables, shapes)
    base = [rng.integers(-(2**31), 2**31, s, dtype=np.int64).astype(np.int32) for s in shapes]
    base[0][10, 10, 10] = 5  # 5 + (2^31 - 1) wraps
    out = [b.copy() for b in base]
    decode_into(payload, plans, out, "test", add=True)
    for o, b, s in zip(out, base, syms):
        assert np.array_equal(o, (b.astype(np.int64) + s).astype(np.int32))
    assert np.array_equal(decode_channels(payload, tables, shapes, "test")[1], syms[1])


def _reference_frames(data: bytes, track: int, level: int) -> list[list[torch.Tensor]]:
    """The decode algorithm spelled out plainly: per channel, a fresh symbol tensor, int32
    accumulation in torch, `dequantize` per channel and planes stacked on dim 1."""
    f = FcvFile(data)
    h = f.header
    frames = []
    for g in range(h.gofs):
        start = h.gof_frames(g)[0]
        gk = ChunkKey(KIND_GOF, g, start, 0, 0)
        steps, _ = unpack_gof(h, f.chunk(gk), describe(gk))
        q: list[list[torch.Tensor]] = [[] for _ in range(level)]
        for t in h.gof_frames(g):
            grids = []
            for lv in range(level):
                tk = ChunkKey(KIND_TABLES, g, start, track, lv)
                ti, tp = unpack_tables(h, f.chunk(tk), describe(tk))
                n, m = h.density_res[lv], h.plane_res[lv]
                shapes = [(n, n, n)] + [(3, m, m)] * h.channels
                key = ChunkKey(KIND_FRAME, g, t, track, lv)
                sym = decode_channels(f.chunk(key), ti if t == start else tp, shapes, "ref")
                sym_t = [torch.from_numpy(s) for s in sym]
                q[lv] = sym_t if t == start else [a + b for a, b in zip(q[lv], sym_t)]
                s = steps[track, lv]
                grids.append(dequantize(q[lv][0], float(s[0])))
                grids.append(
                    torch.stack([dequantize(x, float(y)) for x, y in zip(q[lv][1:], s[1:])], dim=1)
                )
            frames.append(grids)
    return frames


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.is_contiguous() == b.is_contiguous()
        and torch.equal(a.view(torch.int32), b.view(torch.int32))
    )


@pytest.mark.skipif(not SAMPLE.is_file(), reason="assets/sample.fcv not built yet (make sample-clip)")
def test_sample_clip_decodes_bit_identically_to_the_reference() -> None:
    data = SAMPLE.read_bytes()
    dec = Decoder(data, "cpu")
    track, top = dec.tracks - 1, dec.levels
    ref = _reference_frames(data, track, top)
    for t in range(dec.frames):  # sequential, as a player
        grids = dec.frame(t, track, top)
        got = [x for pair in zip(grids.density, grids.planes) for x in pair]
        assert len(got) == len(ref[t]) and all(_same(a, b) for a, b in zip(got, ref[t]))
    rng = np.random.default_rng(0)
    for _ in range(25):  # seeks back, level changes, track switches
        t, lv = int(rng.integers(dec.frames)), int(rng.integers(1, top + 1))
        other = int(rng.integers(dec.tracks - 1))
        dec.frame(t, other, lv)
        grids = dec.frame(t, track, lv)
        got = [x for pair in zip(grids.density, grids.planes) for x in pair]
        assert all(_same(a, b) for a, b in zip(got, ref[t][: 2 * lv]))


def _with_unused_escape(payload: bytes) -> bytes:
    """The same chunk with one extra stored escape that no symbol uses: it decodes to the end
    (every channel already added into the state) before the mismatch is noticed."""
    r = ByteReader(payload)
    esc = [r.svarint() for _ in range(r.uvarint())]
    out = bytearray()
    write_uvarint(out, len(esc) + 1)
    for v in [*esc, 7]:
        write_svarint(out, v)
    return bytes(out) + bytes(r.data[r.pos :])


def test_an_error_late_in_a_chunk_does_not_poison_the_decoder(tiny_clip) -> None:
    enc, data = tiny_clip
    bad_key = ChunkKey(KIND_FRAME, 0, 1, 0, 1)  # a P-frame of level 2
    chunks = [(k, _with_unused_escape(p) if k == bad_key else p) for k, p in enc.chunks]
    damaged = build_fcv(enc.header, chunks).data
    dec = Decoder(damaged, "cpu")
    for _attempt in range(2):
        with pytest.raises(FormatError, match="never used"):
            dec.frame(1, 0, 2)
        # Level 1 of the same frame and level 2 of the I-frame still decode exactly.
        grids = dec.frame(1, 0, 1)
        assert level_hash(grids.density[0], grids.planes[0]) == enc.hashes[(1, 0, 0)]
        grids = dec.frame(0, 0, 2)
        for lv in range(2):
            assert level_hash(grids.density[lv], grids.planes[lv]) == enc.hashes[(0, 0, lv)]
    grids = dec.frame(2, 1, 2)  # the other track is untouched
    assert level_hash(grids.density[1], grids.planes[1]) == enc.hashes[(2, 1, 1)]
