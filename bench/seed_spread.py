"""BD-rates of several `fieldcast eval` runs that differ only in `--seed`, side by side, with
their mean and spread (docs/RESULTS.md: how much of a BD-rate is the training seed's draw).

    python3 bench/seed_spread.py EVAL_DIR [EVAL_DIR ...]

Each EVAL_DIR holds a results.json; runs with a subset of the variants report only theirs.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def figures(results: dict) -> dict[str, float | None]:
    """The BD-rates (%) one results.json reports, by name."""
    out = {
        "vs post-training H.265": results.get("bd_rate_vs_post_training"),
        "vs fixed-rate": results.get("bd_rate_vs_fixed_rate"),
    }
    for name, value in sorted((results.get("ablations") or {}).items()):
        out[f"ablation {name}"] = value
    return out


def main(dirs: list[str]) -> int:
    if not dirs:
        print(__doc__)
        return 2
    runs = []
    for d in dirs:
        path = Path(d) / "results.json"
        results = json.loads(path.read_text())
        runs.append((results["settings"]["seed"], figures(results)))
    names = [n for n in runs[0][1] if any(r[1].get(n) is not None for r in runs)]
    head = " | ".join(f"seed {seed}" for seed, _ in runs)
    print(f"| BD-rate | {head} | mean | min / max |")
    print("|---" * (len(runs) + 3) + "|")
    for name in names:
        values = [r[1].get(name) for r in runs]
        cells = " | ".join("–" if v is None else f"{v:+.1f} %" for v in values)
        got = [v for v in values if v is not None]
        mean = f"{statistics.fmean(got):+.1f} %" if got else "–"
        span = f"{min(got):+.1f} / {max(got):+.1f} %" if got else "–"
        print(f"| {name} | {cells} | {mean} | {span} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
