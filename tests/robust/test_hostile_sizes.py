"""Huge declared sizes, measured as resident memory in a fresh process: a file that declares
enormous headers, indexes, chunks, counts or grids must be refused (or fail) without the
process ever allocating what it declares."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

SCRIPT = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import fcv_fuzz_cases as fz
from codec.container.format import Limits

clip = fz.build_tiny_clip()
data = clip.data
fz.run_case(data)  # warm-up: imports, caches, first decode
a = fz.anatomy(data)

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def n_entries(value):
    buf = bytearray(data)
    buf[a.index_pos:a.index_pos + 4] = value.to_bytes(4, "little")
    return bytes(buf)

big = fz.rewrite_header(fz.rewrite_header(data, "density_res", [129, 257]), "plane_res", [513, 1025])
cases = {
    "head_len 4 GiB": fz.set_fixed_head(data, "head_len", 2**32 - 1),
    "head_len at the limit": fz.set_fixed_head(data, "head_len", Limits.HEADER_BYTES),
    "file_size 2^64-1": fz.set_fixed_head(data, "file_size", 2**64 - 1),
    "index count 2^32-1": n_entries(2**32 - 1),
    "index count at the limit": n_entries(Limits.INDEX_ENTRIES),
    "metadata length 4 GiB": data[:a.meta_pos] + (2**32 - 1).to_bytes(4, "little") + data[a.meta_pos + 4:],
    "chunk length 4 GiB": fz.edit_index(data, [(a.n - 1, "length", 2**32 - 1)]),
    "chunk offset 2^64-1": fz.edit_index(data, [(3, "offset", 2**64 - 1)]),
    "frames at the limit": fz.rewrite_header(data, "frames", Limits.FRAMES),
    "hidden 8 x 1024": fz.rewrite_header(data, "hidden", [1024] * 8),
    "channels 64": fz.rewrite_header(data, "channels", 64),
    "grids at the limits (103 MB a frame)": big,
    "escape count 2^32-1": fz.huge_varints(data, a.n - 1, 0, 5),
    "table size varint": fz.huge_varints(data, 1, 1, 5),
}
base = rss()
report = {}
for name, blob in cases.items():
    t0 = time.process_time()
    out = fz.run_case(blob)
    report[name] = {"cpu_s": time.process_time() - t0, "opened": out.opened,
                    "decoded": out.decoded, "rejected": out.rejected,
                    "declared_frame_bytes": fz.declared_bytes(blob),
                    "first_error": (out.messages or [""])[0]}
print(json.dumps({"base_rss": base, "rss_growth": rss() - base, "cases": report}))
"""


def test_huge_declared_sizes_allocate_nothing_big() -> None:
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(HERE)], capture_output=True, text=True,
                         cwd=REPO, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    rep = json.loads(res.stdout.strip().splitlines()[-1])
    # The largest declared grids are ~103 MB a frame; the process grows by a few MB at most.
    assert rep["rss_growth"] < 16 * 2**20, rep
    for name, r in rep["cases"].items():
        assert r["cpu_s"] < 1.0, (name, r)
        if name == "file_size 2^64-1":
            # Every chunk is present: the file merely looks like an unfinished download.
            assert r["opened"] and r["decoded"] == 4 and r["rejected"] == 0, r
        else:
            assert r["rejected"] >= 1, (name, r)
    assert rep["cases"]["grids at the limits (103 MB a frame)"]["declared_frame_bytes"] > 100e6
