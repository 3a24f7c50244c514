"""Crash-safe encode: `fieldcast encode` SIGKILLed at 3 seeded points (training the I-frame,
training a P-frame, coding + scoring), then rerun with the same command, finishes with a file
byte-identical to an uninterrupted encode; the output path never holds anything but the
complete file, even when a killed write left its temporary file behind."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codec.container.reader import FcvFile

REPO = Path(__file__).resolve().parent.parent.parent
SEED = 8


def encode_cmd(dataset: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "app.cli", "encode", str(dataset), "-o", str(out),
            "--preset", "test", "--tracks", "2", "--levels", "2", "--gof", "3", "--downscale", "1",
            "--device", "cpu", "--key-steps", "400", "--p-steps", "100", "--score-views", "1"]


class Watched:
    """A running encode whose output path is checked every few ms: whatever appears there is
    kept, to be compared with the reference file (a partial file would differ)."""

    def __init__(self, cmd: list[str], out: Path, log: Path) -> None:
        self.out = out
        self.log_path = log
        self.seen: list[bytes] = []
        self.log = open(log, "wb")  # noqa: SIM115 - closed in wait()
        env = dict(os.environ, OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=self.log, env=env)

    def logged(self, pattern: str) -> bool:
        """The run's progress output (tqdm bars, stage names) matches ``pattern``."""
        self.log.flush()
        return re.search(pattern, self.log_path.read_text(errors="replace")) is not None

    def poll_output(self) -> None:
        if self.out.exists():
            data = self.out.read_bytes()
            if not self.seen or self.seen[-1] != data:
                self.seen.append(data)

    def wait_until(self, ready, timeout: float = 900.0) -> bool:
        """Poll until ``ready()`` or the process ends; True if ready while still running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_output()
            if self.proc.poll() is not None:
                return False
            if ready():
                return True
            time.sleep(0.02)
        raise TimeoutError("encode did not reach the kill point")

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.proc.poll() is None:
            self.poll_output()
            time.sleep(0.02)

    def kill(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        return self.wait()

    def wait(self) -> int:
        while self.proc.poll() is None:
            self.poll_output()
            time.sleep(0.02)
        self.poll_output()
        self.log.close()
        return self.proc.returncode


@pytest.mark.slow
@pytest.mark.timeout(1800)  # five encodes (two of them complete); minutes on a busy machine
def test_sigkill_at_three_points_then_rerun_is_byte_identical(robust_dataset, tmp_path) -> None:
    rng = random.Random(SEED)
    ref_dir, run_dir = tmp_path / "reference", tmp_path / "killed"
    ref_dir.mkdir()
    run_dir.mkdir()
    ref_out, out = ref_dir / "clip.fcv", run_dir / "clip.fcv"
    work = run_dir / "clip.fcv.work"
    # The uninterrupted encode runs alongside the interrupted ones.
    reference = Watched(encode_cmd(robust_dataset, ref_out), ref_out, tmp_path / "reference.log")

    # Seeded kill points, found from the run's own progress output: the GoF checkpoint holds
    # finished frames and, mid-frame, optimizer / RNG / rate-hook state (codec/train/checkpoint.py).
    kill_points = [
        # Delays stay well inside each stage even on an idle machine (where the I-frame's 400
        # steps take ~2 s, the P-frames ~1 s and coding+scoring well under a second).
        ("training the I-frame", r"frame \d+ \(I\)", rng.uniform(0.1, 0.6)),
        ("training a P-frame", r"frame \d+ \(P\)", rng.uniform(0.05, 0.3)),
        ("coding and scoring", r"code\+score", rng.uniform(0.0, 0.05)),
    ]
    seen: list[bytes] = []
    logs = []
    for i, (stage, marker, delay) in enumerate(kill_points):
        logs.append(tmp_path / f"killed-{i}.log")
        run = Watched(encode_cmd(robust_dataset, out), out, logs[-1])
        reached = run.wait_until(lambda run=run, marker=marker: run.logged(marker))
        assert reached, f"encode ended before the kill point '{stage}' ({run.proc.returncode})"
        run.sleep(delay)
        code = run.kill()
        assert code == -signal.SIGKILL, f"not killed while {stage} (exit {code})"
        seen += run.seen
        # Nothing at the output path yet: it is only ever renamed into place when complete.
        assert not out.exists(), f"a file appeared at the output path after a kill while {stage}"
        assert [p.name for p in run_dir.glob("*.fcv")] == []
        assert work.is_dir() and list(work.glob("gof_*.npz")) or i == 0, "no checkpoint kept"
    # A kill inside the final write leaves only the temporary file; plant one to prove it is
    # never mistaken for the output and is replaced by the complete file.
    partial = run_dir / f".{out.name}.partial"
    partial.write_bytes(b"\x89FCV\r\n\x1a\n" + b"\x00" * 100)

    logs.append(tmp_path / "final.log")
    final = Watched(encode_cmd(robust_dataset, out), out, logs[-1])
    assert final.wait() == 0, logs[-1].read_text()[-3000:]
    assert reference.wait() == 0, (tmp_path / "reference.log").read_text()[-3000:]
    expected, got = ref_out.read_bytes(), out.read_bytes()
    assert not partial.exists()
    assert not any("Traceback" in log.read_text(errors="replace") for log in logs)
    # Whenever the output path held anything, it was one complete file of this encode.
    assert all(snapshot in (expected, got) for snapshot in seen + final.seen + reference.seen)
    # The coded content (header, index lengths and CRCs, every chunk) is identical ...
    a, b = FcvFile(got), FcvFile(expected)
    assert a.header == b.header
    assert {k: (e.length, e.crc32) for k, e in a.index.items()} == {
        k: (e.length, e.crc32) for k, e in b.index.items()}
    assert a.data[a.chunks_start:] == b.data[b.chunks_start:]
    assert a.operating_points() == b.operating_points()
    # ... and so is the whole file.
    assert got == expected
