"""`fieldcast bench NAME`: run one benchmark and print JSON or a table."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType

from app import bench as bench_pkg

NAME = "bench"
HELP = "run a benchmark (field, codec, render, decode, player, encode) and print JSON or a table"
DESCRIPTION = (
    "Benchmarks report figures (ms/frame, dB, bytes, seconds); they never pass or fail.\n"
    "`make bench` runs them all and stores bench/results/*.json and bench/RESULTS.md."
)


def _modules() -> dict[str, ModuleType]:
    mods = {}
    for info in pkgutil.iter_modules(bench_pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{bench_pkg.__name__}.{info.name}")
        if hasattr(mod, "NAME"):
            mods[mod.NAME] = mod
    return mods


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for name, mod in sorted(_modules().items()):
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        p.add_argument("--out", type=Path, help="also write the JSON result to this file")
        p.set_defaults(_bench=mod)


def format_table(result: dict) -> str:
    """Flat `key  value` lines; nested dicts and lists are shown as compact JSON."""
    width = max((len(k) for k in result), default=0)
    lines = []
    for key, value in result.items():
        shown = value if isinstance(value, (int, float, str)) else json.dumps(value)
        lines.append(f"{key.ljust(width)}  {shown}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    result = args._bench.run(args)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text if args.json else format_table(result))
    return 0
