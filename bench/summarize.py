"""Collect bench/results/*.json into one markdown page (bench/RESULTS.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (int, str)):
        return str(value)
    return "`" + json.dumps(value)[:200] + "`"


def main(folder: str) -> None:
    print("# Benchmark results\n")
    print("Made by `make bench` (scripts/bench.sh); each section is one `fieldcast bench NAME`.\n")
    for path in sorted(Path(folder).glob("*.json")):
        data = json.loads(path.read_text())
        print(f"## {path.stem}\n\n| key | value |\n|---|---|")
        for key, value in data.items():
            print(f"| {key} | {_cell(value)} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
