"""What the studies of code nobody here wrote share: how a planted error is counted, and where
the records go."""

from __future__ import annotations

import json
from pathlib import Path


def plant_columns(plants: list[dict]) -> tuple[int, int, int, int]:
    """(caught: the planted entry named alone; PASS with the error under 10× the report's
    tolerance for it; missed: PASS above that; FAILs naming another entry)."""
    caught = sum(1 for r in plants if not r["ok"] and r["named"] == [r["entry"]])
    small = sum(1 for r in plants if r["ok"] and r["error"] <= 10 * r["tolerance"])
    missed = sum(1 for r in plants if r["ok"] and r["error"] > 10 * r["tolerance"])
    others = sum(1 for r in plants if set(r["named"]) - {r["entry"]})
    return caught, small, missed, others


def save(records: list[dict], text: str, out: str) -> None:
    """The table on stdout; the records as JSON and the table as Markdown beside ``out``."""
    print(text)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(records, indent=0))
    path.with_suffix(".md").write_text(text)


def run(doc: str, study, table, option: str, default: int, out: str) -> None:
    """A study's command line: ``--<option> N`` (how many seeds or points) and ``--out``; runs
    ``study(N)``, then prints and saves ``table(records)`` with the count and the time."""
    import argparse
    import time
    import warnings

    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument(f"--{option}", type=int, default=default)
    parser.add_argument("--out", default=out)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    records = study(getattr(args, option))
    text = f"{len(records)} checks, {time.perf_counter() - t0:.0f} s\n\n{table(records)}\n"
    save(records, text, args.out)
