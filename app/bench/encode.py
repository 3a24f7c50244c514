"""`fieldcast bench encode`: seconds per I- and P-frame, and peak RSS of encode, decode, playback.

Each stage runs the real command a user runs, in its own child process, so its peak resident
set size is that process's alone (``os.wait4`` returns the child's ``ru_maxrss``):

- encode: ``fieldcast encode DATASET -o clip.fcv --report ...`` (training, coding, scoring);
- decode: ``fieldcast decode clip.fcv --frame T-1 --track K-1 --level L --camera 0 --png ...``
  (the GoF's frames up to T-1 decoded at the finest point, one view rendered by torch);
- playback: ``fieldcast bench player clip.fcv`` (the real player window, quality changed every
  second), which reports its own peak RSS; under ``xvfb-run`` when there is no display.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codec.errors import FieldCastError

from .field import DEFAULT_DATASET

NAME = "encode"
HELP = "encode seconds per I- and P-frame; peak RSS of encode, decode and playback"
DESCRIPTION = (
    "Encodes the dataset with `fieldcast encode` (one child process), then decodes the last\n"
    "frame at the finest operating point with `fieldcast decode` and plays the clip with\n"
    "`fieldcast bench player` (each in its own child process), and reports:\n"
    "  key_seconds / p_seconds: wall seconds of training per I- / P-frame (rays and visual hull\n"
    "    included), *_cpu_seconds their process CPU time; code_seconds, score_seconds;\n"
    "  *_peak_rss_mb: the peak resident memory of each child process (ru_maxrss).\n"
    "Run on an idle machine: CPU contention distorts every time (memory figures hold).\n"
    "The clip and the encode's checkpoints live in a temporary directory unless --keep DIR."
)


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: exit code, wall seconds, peak RSS and captured stdout."""

    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET,
                        help=f"dataset directory (default: {DEFAULT_DATASET})")
    parser.add_argument("--preset", default="fast", help="training preset (default fast)")
    parser.add_argument("--frames", type=int, default=None, help="encode the first N frames (default all)")
    parser.add_argument("--gof", type=int, default=10, help="GoF length (default 10)")
    parser.add_argument("--tracks", type=int, default=4, help="rate tracks (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per child (default 2)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--playback-seconds", type=float, default=10.0,
                        help="seconds of playback at 256² (0: skip playback; default 10)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the clip, report and checkpoints in this directory "
                        "(an interrupted bench rerun with the same --keep resumes the encode)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further `fieldcast encode` options, e.g. --extra --key-steps 30")


# A forked child's ru_maxrss starts at its parent's resident size (Linux folds the old address
# space's high-water mark into it at exec), so a child forked from this torch-laden process would
# report at least our size. A minimal interpreter forks the real command instead: its own few MB
# are then the floor, and it hands the command's exit status and ru_maxrss back on stdout.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.dup2(int(sys.argv[1]), 1)\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def run_child(cmd: list[str], env: dict[str, str]) -> ChildRun:
    """Run `cmd` (stderr passes through: progress bars stay visible) and measure it."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        launcher = [sys.executable, "-S", "-c", _LAUNCHER, str(out.fileno()), *cmd]
        proc = subprocess.run(launcher, env=env, stdout=subprocess.PIPE, text=True,
                              pass_fds=(out.fileno(),), check=False)
        seconds = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    try:
        code, maxrss_kib = (int(x) for x in proc.stdout.split())
    except ValueError:
        raise FieldCastError(f"could not start {cmd[0]} (launcher exit {proc.returncode})") from None
    return ChildRun(code, seconds, maxrss_kib / 1024, text)


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LP_NUM_THREADS"):
        env[var] = str(threads)
    return env


def _fieldcast() -> list[str]:
    return [sys.executable, "-m", "app.cli"]


def _check(run: ChildRun, what: str) -> None:
    if run.returncode != 0:
        raise FieldCastError(f"{what} failed (exit {run.returncode}); its messages are above")


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _summary_of_frames(frames: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [f for f in frames if f["key"]]
    ps = [f for f in frames if not f["key"]]
    return {
        "key_seconds": [round(f["seconds"], 2) for f in keys],
        "key_cpu_seconds": [round(f["cpu_seconds"], 2) for f in keys],
        "p_seconds": [round(f["seconds"], 2) for f in ps],
        "p_cpu_seconds": [round(f["cpu_seconds"], 2) for f in ps],
        "key_seconds_mean": _mean([f["seconds"] for f in keys]),
        "p_seconds_mean": _mean([f["seconds"] for f in ps]),
        "p_seconds_max": max((f["seconds"] for f in ps), default=None),
    }


def _playback(clip: Path, seconds: float, env: dict[str, str], work: Path) -> dict[str, Any]:
    out = work / "player.json"
    cmd = [*_fieldcast(), "bench", "player", str(clip), "--sizes", "256",
           "--seconds", str(seconds), "--json", "--out", str(out)]  # fmt: skip
    env = {**env, "QT_QPA_PLATFORM": env.get("QT_QPA_PLATFORM", "xcb")}
    if not env.get("DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            raise FieldCastError("playback needs an X server or xvfb-run (or --playback-seconds 0)")
        cmd = [xvfb, "-a", "-s", "-screen 0 1280x1024x24 +extension GLX", *cmd]
    run = run_child(cmd, env)
    _check(run, "playback (fieldcast bench player)")
    player = json.loads(out.read_text())
    session = player["sessions"][0]
    return {
        "playback_peak_rss_mb": player["peak_rss_mb"],
        "playback_seconds": seconds,
        "playback_sustained_fps": session["sustained_fps"],
        "playback_quality_changes": session["quality_changes"],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    dataset = Path(args.dataset)
    if not dataset.exists():
        raise FieldCastError(f"no such dataset: {dataset}")
    env = _child_env(args.threads)
    with tempfile.TemporaryDirectory(prefix="fieldcast-bench-encode-") as tmp:
        work = Path(args.keep) if args.keep is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        clip, report = work / "clip.fcv", work / "encode.json"
        enc_cmd = [*_fieldcast(), "encode", str(dataset), "-o", str(clip), "--preset", args.preset,
                   "--gof", str(args.gof), "--tracks", str(args.tracks), "--device", args.device,
                   "--work-dir", str(work / "checkpoints"), "--report", str(report)]  # fmt: skip
        if args.frames is not None:
            enc_cmd += ["--frames", str(args.frames)]
        enc_cmd += list(args.extra)
        enc = run_child(enc_cmd, env)
        _check(enc, "encode")
        rep = json.loads(report.read_text())
        frames = rep["frames"]
        points = rep["operating_points"]
        top_track = max(p["track"] for p in points)
        top_level = max(p["level"] for p in points)
        png = work / "decoded.png"
        dec_cmd = [*_fieldcast(), "decode", str(clip), "--frame", str(frames - 1),
                   "--track", str(top_track), "--level", str(top_level), "--camera", "0",
                   "--device", args.device, "--png", str(png)]  # fmt: skip
        dec = run_child(dec_cmd, env)
        _check(dec, "decode")
        result: dict[str, Any] = {
            "dataset": str(dataset),
            "preset": args.preset,
            "frames": frames,
            "gof": rep["settings"]["gof"],
            "tracks": args.tracks,
            "threads": args.threads,
            **_summary_of_frames(rep["trained_frames"]),
            "train_seconds": rep["seconds"].get("train"),
            "code_seconds": rep["seconds"].get("code"),
            "score_seconds": rep["seconds"].get("score"),
            "encode_wall_seconds": enc.seconds,
            "encode_peak_rss_mb": enc.peak_rss_mb,
            "file_bytes": rep["file_bytes"],
            "decode_point": {"frame": frames - 1, "track": top_track, "level": top_level},
            "decode_wall_seconds": dec.seconds,
            "decode_peak_rss_mb": dec.peak_rss_mb,
        }
        if args.playback_seconds > 0:
            result.update(_playback(clip, args.playback_seconds, env, work))
        result["commands"] = {
            "encode": " ".join(["fieldcast", *enc_cmd[3:]]),
            "decode": " ".join(["fieldcast", *dec_cmd[3:]]),
        }
    return result
