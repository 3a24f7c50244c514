"""Coverage-guided fuzzing of the .fcv reader and decoder with atheris (libFuzzer for Python).

    pip install atheris        # not a FieldCast dependency: only this harness needs it
    .venv/bin/python bench/fuzz_fcv_atheris.py --seconds 600 --json fuzz.json

Every input is a candidate file: its first byte picks the mode (even: the bytes as they are;
odd: the rest with every CRC recomputed first, so mutations reach the JSON, varint, table and
range-decoder parsers behind the checksums). The harness opens it and decodes the last frame of
every GoF in every track at full LOD (`tests/robust/fcv_fuzz_cases.run_case`). Accepted
outcomes: `FormatError` or a successful decode, within --case-seconds of CPU; anything else
(another exception, a slow case, libFuzzer's RSS limit) is a crash that libFuzzer saves as
`crash-*` for replay (`python bench/fuzz_fcv_atheris.py crash-...`). See docs/ROBUSTNESS.md.

Reports cases per second on stdout (a line every --report-every seconds) and, at the end,
as JSON (--json) and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "robust"))


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="fuzzing time budget (default 60)")
    p.add_argument("--runs", type=int, default=0, help="stop after this many cases (0: no limit)")
    p.add_argument("--corpus", type=Path, default=None,
                   help="corpus directory (default: a temporary one seeded with the tiny clip)")
    p.add_argument("--case-seconds", type=float, default=1.0, help="CPU bound per case (default 1)")
    p.add_argument("--rss-limit-mb", type=int, default=1024, help="libFuzzer RSS limit (default 1024)")
    p.add_argument("--report-every", type=float, default=10.0, help="seconds between rate lines")
    p.add_argument("--json", type=Path, default=None, help="write the final report here")
    p.add_argument("--no-instrument", action="store_true",
                   help="no coverage instrumentation of codec/ (faster, blind mutation)")
    return p.parse_known_args(argv)


class Harness:
    def __init__(self, args: argparse.Namespace, fz, format_error: type[Exception]) -> None:
        self.args = args
        self.fz = fz
        self.format_error = format_error
        self.stats: Counter[str] = Counter()
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.last_report = self.start
        self.slowest = 0.0

    def one(self, data: bytes) -> None:
        if not data:
            return
        blob = self.fz.fix_all_crcs(data[1:]) if data[0] & 1 else data[1:]
        t0 = time.process_time()
        out = self.fz.run_case(blob)  # anything but FormatError propagates: a crash
        cpu = time.process_time() - t0
        self.slowest = max(self.slowest, cpu)
        if cpu > self.args.case_seconds:
            raise RuntimeError(f"case took {cpu:.2f} s of CPU (bound {self.args.case_seconds} s)")
        s = self.stats
        s["cases"] += 1
        s["crc_fixed"] += data[0] & 1
        s["opened"] += out.opened
        s["decoded_frames"] += out.decoded
        s["rejected"] += out.rejected
        now = time.perf_counter()
        if now - self.last_report >= self.args.report_every:
            self.last_report = now
            print(f"[fuzz_fcv] {s['cases']} cases, {s['cases'] / (now - self.start):.0f} cases/s, "
                  f"{s['opened']} opened, {s['decoded_frames']} frames decoded", flush=True)
        if now - self.start >= self.args.seconds or (self.args.runs and s["cases"] >= self.args.runs):
            self.finish()

    def report(self) -> dict:
        wall = time.perf_counter() - self.start
        cpu = time.process_time() - self.cpu_start
        s = self.stats
        return {
            "cases": s["cases"],
            "seconds": wall,
            "cases_per_second": s["cases"] / wall if wall else 0.0,
            "cases_per_cpu_second": s["cases"] / cpu if cpu else 0.0,
            "crc_fixed_cases": s["crc_fixed"],
            "opened": s["opened"],
            "decoded_frames": s["decoded_frames"],
            "rejected": s["rejected"],
            "slowest_case_cpu_ms": self.slowest * 1000,
            "crashes": 0,
        }

    def finish(self) -> None:
        rep = self.report()
        if self.args.json:
            self.args.json.write_text(json.dumps(rep, indent=2) + "\n")
        print("\n| metric | value |\n|---|---|")
        for k, v in rep.items():
            print(f"| {k} | {v:.1f} |" if isinstance(v, float) else f"| {k} | {v} |")
        sys.stdout.flush()
        os._exit(0)  # libFuzzer would otherwise keep going; no crash was found


def seed_corpus(fz, corpus: Path) -> None:
    clip = fz.build_tiny_clip()
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = {
        "clip": b"\x00" + clip.data,
        "clip-crcfix": b"\x01" + clip.data,
        "truncated": b"\x00" + clip.data[: len(clip.data) * 2 // 3],
        "chunk-edit": b"\x00" + fz.edit_chunk(clip.data, 5, [(3, 0xFF), (9, 0)], None),
    }
    for name, blob in seeds.items():
        (corpus / f"seed-{name}").write_bytes(blob)


def main(argv: list[str]) -> int:
    args, fuzzer_args = parse_args(argv[1:])
    try:
        import atheris
    except ImportError:
        print("fuzz_fcv_atheris: atheris is not installed (pip install atheris); skipping. "
              "The CI fuzz test is tests/robust/test_fuzz_fcv.py.")
        return 0
    if args.no_instrument:
        import fcv_fuzz_cases as fz

        from codec.errors import FormatError
    else:
        with atheris.instrument_imports(include=["codec", "fcv_fuzz_cases"]):
            import fcv_fuzz_cases as fz

            import codec.decode.decoder  # noqa: F401 - instrument the decoder and its imports
            from codec.errors import FormatError
    harness = Harness(args, fz, FormatError)
    replay = [a for a in fuzzer_args if not a.startswith("-")]
    if not replay:
        corpus = args.corpus or Path(tempfile.mkdtemp(prefix="fcv-corpus-"))
        if not corpus.exists() or not any(corpus.iterdir()):
            seed_corpus(fz, corpus)
        fuzzer_args = [*fuzzer_args, str(corpus)]
        print(f"[fuzz_fcv] corpus {corpus}, {args.seconds:.0f} s budget", flush=True)
    libfuzzer = [f"-rss_limit_mb={args.rss_limit_mb}", f"-timeout={max(2, int(3 * args.case_seconds))}",
                 "-max_len=65536"]
    atheris.Setup([argv[0], *libfuzzer, *fuzzer_args], harness.one)
    atheris.Fuzz()
    harness.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
