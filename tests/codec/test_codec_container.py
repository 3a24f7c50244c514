"""The .fcv container and decoder: bit-exact, truncation, damage, hostile sizes."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import pytest
import torch

from codec.container.format import FIXED_HEAD, INDEX_ENTRY, KIND_FRAME, Limits
from codec.container.reader import FcvFile
from codec.decode import Decoder
from codec.encode.quantized import level_hash
from codec.errors import FormatError


def _check_all(dec: Decoder, hashes: dict) -> int:
    h = dec.header
    checked = 0
    for r in range(h.tracks):
        for t in range(h.frames):
            grids = dec.frame(t, r, h.levels)
            for lv in range(grids.lod):
                assert level_hash(grids.density[lv], grids.planes[lv]) == hashes[(t, r, lv)]
                checked += 1
    return checked


def test_decode_is_bit_exact_across_runs_and_threads(tiny_clip) -> None:
    enc, data = tiny_clip
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for _ in range(2):
                assert _check_all(Decoder(data, "cpu"), enc.hashes) == len(enc.hashes)
    finally:
        torch.set_num_threads(before)


def test_access_patterns_give_the_same_grids(tiny_clip) -> None:
    """Raising the level, seeking back and switching tracks all land on the encoder's grids."""
    enc, data = tiny_clip
    dec = Decoder(data, "cpu")
    order = [(1, 0, 1), (1, 0, 2), (0, 1, 2), (4, 1, 1), (4, 1, 2), (2, 0, 2), (3, 0, 1)]
    for t, r, lv in order:
        grids = dec.frame(t, r, lv)
        assert grids.lod == lv
        for j in range(lv):
            assert level_hash(grids.density[j], grids.planes[j]) == enc.hashes[(t, r, j)]
    # Raising the level decodes only the new level's chunks (frames GoF start..t).
    dec2 = Decoder(data, "cpu")
    dec2.frame(2, 0, 1)
    n1 = dec2.stats.chunks
    dec2.frame(2, 0, 2)
    assert dec2.stats.chunks - n1 == 3
    dec2.frame(2, 0, 2)
    assert dec2.stats.chunks - n1 == 3


def test_truncated_file_plays_every_complete_chunk(tiny_clip) -> None:
    enc, data = tiny_clip
    full = FcvFile(data)
    entries = sorted(full.index.values(), key=lambda e: e.offset)
    cuts = sorted({full.chunks_start, len(data) - 1} | {e.offset + e.length for e in entries[::3]}
                  | {e.offset + e.length // 2 for e in entries[1::4]})
    for cut in cuts:
        dec = Decoder(data[:cut], "cpu")
        assert dec.truncated == (cut < len(data))
        for r in range(dec.tracks):
            for t in range(dec.frames):
                avail = dec.available_level(t, r)
                # Expected from the index alone: levels whose chunks up to t are all complete.
                if avail == 0:
                    with pytest.raises(FormatError):
                        dec.frame(t, r, 2)
                    continue
                grids = dec.frame(t, r, 2)
                assert grids.lod == avail
                for j in range(avail):
                    assert level_hash(grids.density[j], grids.planes[j]) == enc.hashes[(t, r, j)]
    # A cut inside the prefix cannot open: clear error, no crash.
    for cut in (0, 5, FIXED_HEAD.size + 3, full.chunks_start - 1):
        with pytest.raises(FormatError):
            Decoder(data[:cut], "cpu")


def test_lower_levels_survive_a_cut_in_the_last_level(tiny_clip) -> None:
    _, data = tiny_clip
    full = FcvFile(data)
    last = max(full.index.values(), key=lambda e: e.offset)
    assert last.key.kind == KIND_FRAME and last.key.level == 1
    dec = Decoder(data[: last.offset + 1], "cpu")
    t, r = last.key.frame, last.key.track
    assert dec.available_level(t, r) == 1
    assert dec.frame(t, r, 2).lod == 1


def test_crc_damage_is_a_format_error(tiny_clip) -> None:
    _, data = tiny_clip
    full = FcvFile(data)
    e = next(e for e in full.index.values() if e.key.kind == KIND_FRAME and e.key.frame == 0)
    bad = bytearray(data)
    bad[e.offset + e.length // 2] ^= 0x40
    dec = Decoder(bytes(bad), "cpu")
    with pytest.raises(FormatError, match="CRC"):
        dec.frame(0, e.key.track, e.key.level + 1)
    # Header, index and metadata damage are caught at open.
    for pos in (FIXED_HEAD.size + 2, full.core_bytes - 10, full.chunks_start - 6):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        with pytest.raises(FormatError):
            Decoder(bytes(bad), "cpu")


def _rewrite_index(data: bytes, edit) -> bytes:
    """Apply ``edit(list of entry tuples)`` and fix the index CRC (a 'valid-looking' hostile file)."""
    _, _, _, _, head_len = FIXED_HEAD.unpack_from(data, 0)
    pos = FIXED_HEAD.size + head_len + 4
    (n,) = struct.unpack_from("<I", data, pos)
    entries = [list(INDEX_ENTRY.unpack_from(data, pos + 4 + i * 32)) for i in range(n)]
    edit(entries)
    index = struct.pack("<I", n) + b"".join(INDEX_ENTRY.pack(*e) for e in entries)
    out = bytearray(data)
    out[pos : pos + len(index)] = index
    out[pos + len(index) : pos + len(index) + 4] = struct.pack("<I", zlib.crc32(index))
    return bytes(out)


def test_damaged_index_is_a_format_error(tiny_clip) -> None:
    _, data = tiny_clip

    def outside(es):
        es[-1][7] = 10**12

    def overlap(es):
        es[-1][7] = es[-2][7]

    def duplicate(es):
        es[-1][:3] = es[-2][:3]

    for edit in (outside, overlap, duplicate):
        with pytest.raises(FormatError):
            Decoder(_rewrite_index(data, edit), "cpu")


def _rewrite_header(data: bytes, change) -> bytes:
    magic, major, minor, size, head_len = FIXED_HEAD.unpack_from(data, 0)
    head = json.loads(data[FIXED_HEAD.size : FIXED_HEAD.size + head_len])
    change(head)
    raw = json.dumps(head).encode()
    fixed = FIXED_HEAD.pack(magic, major, minor, size, len(raw))
    rest = data[FIXED_HEAD.size + head_len + 4 :]
    return fixed + raw + struct.pack("<I", zlib.crc32(fixed + raw)) + rest


def test_hostile_sizes_rejected_before_allocation(tiny_clip) -> None:
    _, data = tiny_clip
    hostile = [
        lambda h: h.update(density_res=[5, 2**20]),
        lambda h: h.update(plane_res=[5, Limits.PLANE_RES + 2]),
        lambda h: h.update(frames=10**9),
        lambda h: h.update(channels=10**6),
        lambda h: h.update(hidden=[2**30]),
        lambda h: h.update(tracks=0),
        lambda h: h.update(cameras="x"),
        lambda h: h.pop("fps"),
    ]
    for change in hostile:
        with pytest.raises(FormatError):
            Decoder(_rewrite_header(data, change), "cpu")
    # A huge declared header length is refused before reading it.
    magic, major, minor, size, _ = FIXED_HEAD.unpack_from(data, 0)
    huge = FIXED_HEAD.pack(magic, major, minor, size, 2**31) + data[FIXED_HEAD.size :]
    with pytest.raises(FormatError, match="limit"):
        Decoder(huge, "cpu")
    with pytest.raises(FormatError, match="magic"):
        Decoder(b"PK\x03\x04" + data[4:], "cpu")


def test_info_json_keys(tiny_clip, tmp_path) -> None:
    _, data = tiny_clip
    path = tmp_path / "tiny.fcv"
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "info", str(path), "--json"],
        capture_output=True, text=True, check=True,
    )
    info = json.loads(out.stdout)
    for key in ("frames", "fps", "gof", "levels", "tracks", "cameras", "operating_points"):
        assert key in info
    assert info["frames"] == 5 and info["levels"] == 2 and info["tracks"] == 2
    pts = info["operating_points"]
    assert len(pts) == 4
    for p in pts:
        assert set(p) >= {"track", "level", "bytes_per_frame", "psnr", "ssim"}
    by = {(p["track"], p["level"]): p["bytes_per_frame"] for p in pts}
    assert by[(0, 1)] < by[(0, 2)] and by[(0, 2)] < by[(1, 2)]
    assert by[(1, 2)] * 5 <= len(data)
    bad = tmp_path / "bad.fcv"
    bad.write_bytes(data[:10])
    res = subprocess.run(
        [sys.executable, "-m", "app.cli", "info", str(bad)], capture_output=True, text=True
    )
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_info_table_says_which_views_scored_it(tiny_clip, tmp_path) -> None:
    from app.commands.info import _scored_on

    _, data = tiny_clip
    path = tmp_path / "tiny.fcv"
    path.write_bytes(data)
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "info", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "operating points (PSNR, SSIM: mean over the test views of every frame)" in out
    # `fieldcast eval` encodes with score_views 1: the table must not pass for its evaluation.
    assert _scored_on({"encoder": {"score_views": 1}}) == "mean over the first test view of every frame"
    assert "first 3 test views" in _scored_on({"encoder": {"score_views": 3}})
    assert _scored_on({"encoder": {"score_views": None}}) == _scored_on({})


def test_decode_cli_renders_png_and_rejects_bad_input(tiny_clip, tmp_path) -> None:
    import imageio.v3 as iio

    _, data = tiny_clip
    path = tmp_path / "tiny.fcv"
    path.write_bytes(data)
    png = tmp_path / "out.png"
    cmd = [sys.executable, "-m", "app.cli", "decode", str(path), "--frame", "4", "--track", "1",
           "--level", "2", "--camera", "0", "--png", str(png), "--device", "cpu"]
    subprocess.run(cmd, check=True, capture_output=True)
    img = iio.imread(png)
    assert img.shape == (32, 32, 3) and img.std() > 0
    cam = tmp_path / "cam.json"
    cam.write_text(json.dumps({"fl_x": 20, "fl_y": 20, "cx": 8, "cy": 8, "w": 16, "h": 16,
                               "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 2.5],
                                                    [0, 0, 0, 1]]}))
    cmd[cmd.index("--camera") + 1] = str(cam)
    subprocess.run(cmd, check=True, capture_output=True)
    assert iio.imread(png).shape == (16, 16, 3)
    bad = tmp_path / "bad.fcv"
    bad.write_bytes(data[: len(data) // 3])
    for argv in (cmd[:3] + [str(bad)] + cmd[4:], cmd[:-4] + ["--level", "9"] + cmd[-2:]):
        res = subprocess.run(argv, capture_output=True, text=True)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr


def test_clip_coded_bytes_within_bound_of_ideal(tiny_clip) -> None:
    enc, data = tiny_clip
    st = enc.stats
    assert st.coded_bytes <= 1.02 * (st.ideal_bits / 8 + st.raw_bytes) + 4 * st.chunks
    # The analysis of the written file reproduces the encoder's own figures bit for bit.
    from codec.encode.analysis import analyze

    again = analyze(FcvFile(data))
    assert again["reencoded_identical"] and again["coded_bytes"] == st.coded_bytes
    assert again["table_bytes"] == st.table_bytes


def test_header_step_floor_round_trips_and_is_checked(tiny_clip) -> None:
    from dataclasses import replace

    from codec.container.header import ClipHeader

    header = FcvFile(tiny_clip[1]).header
    floored = replace(header, render=replace(header.render, step_floor_res=9))
    assert ClipHeader.from_json(json.loads(json.dumps(floored.to_json()))) == floored
    older = floored.to_json()
    del older["render"]["step_floor_res"]  # files written before the field existed
    assert ClipHeader.from_json(older).render.step_floor_res == 0
    for bad in (1, -3, 10**6, 2.5, True, "9"):
        d = floored.to_json()
        d["render"]["step_floor_res"] = bad
        with pytest.raises(FormatError, match="step_floor_res"):
            ClipHeader.from_json(d)


def test_mlp_is_stored_in_half_precision_and_older_f32_files_still_read(tiny_clip) -> None:
    import numpy as np

    from codec.container.chunks import gof_payload_size, pack_gof, unpack_gof
    from codec.container.format import KIND_GOF, ChunkKey
    from codec.container.header import ClipHeader
    from codec.container.reader import describe
    from codec.decode.info import clip_info

    enc, data = tiny_clip
    f = FcvFile(data)
    h = f.header
    assert h.mlp_dtype == "f16" and clip_info(f, len(data))["mlp_dtype"] == "f16"
    values = sum(o * i + o for o, i in h.mlp_shapes())
    n_steps = h.tracks * h.levels * h.symbol_channels
    assert gof_payload_size(h) == 4 * n_steps + 2 * values
    key = ChunkKey(KIND_GOF, 0, 0, 0, 0)
    steps, mlp = unpack_gof(h, f.chunk(key), describe(key))
    # What is read back is exactly representable in half precision (no second rounding).
    for w, b in mlp:
        assert np.array_equal(w, w.astype(np.float16).astype(np.float32))
        assert np.array_equal(b, b.astype(np.float16).astype(np.float32))
    # A header without the key is a file written before format 1.1: float32 MLP.
    older = h.to_json()
    del older["mlp_dtype"]
    h32 = ClipHeader.from_json(older)
    assert h32.mlp_dtype == "f32"
    payload = pack_gof(h32, steps, mlp)
    assert len(payload) == gof_payload_size(h32) == 4 * (n_steps + values)
    steps32, mlp32 = unpack_gof(h32, payload, "GoF")
    assert np.array_equal(steps32, steps)
    assert all(np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(mlp, mlp32))
    for bad in ("f64", 16, None):
        d = h.to_json()
        d["mlp_dtype"] = bad
        with pytest.raises(FormatError, match="mlp_dtype"):
            ClipHeader.from_json(d)
    with pytest.raises(ValueError, match="f16"):
        pack_gof(h, steps, [(w * 1e6, b) for w, b in mlp])
