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
