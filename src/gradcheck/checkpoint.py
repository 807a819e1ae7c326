"""Checkpoints: evaluations of one problem saved to a file, so that a rerun resumes.

A checkpoint belongs to one problem. Its first line is a header with the problem's fingerprint:
a hash of the point x, the settings that decide which points are evaluated, and the package
version, plus f's cost and a signature of its gradient at x. A rerun reuses the file only when
all of these agree (the cost and gradient within the noise measured at x); a file of another
problem is never reused: the run writes beside it instead, and a note says so. Every further line
is one evaluation, ``{"key": hash of the point, "cost": value}``; a line torn by a kill in the
middle of a write, or otherwise unreadable, is skipped with a note. Lines are flushed after
every chunk of work.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

FORMAT = "gradcheck-checkpoint/1"
FLUSH_EVERY = 256  # records, or
FLUSH_SECONDS = 0.5  # seconds: a kill loses at most this much work


def point_key(point: np.ndarray) -> str:
    """A hash of the point's bytes: the key of its evaluation."""
    return hashlib.sha1(np.ascontiguousarray(point).tobytes()).hexdigest()


class Fingerprint(NamedTuple):
    """What identifies a problem: an exact key, and f's values at x compared within noise."""

    key: str  # hash of x, the settings and the package version
    cost: float
    signature: tuple[float, ...]  # the gradient at x along three fixed directions
    spread: float  # how much the cost varied between calls at x (0 for a deterministic f)

    def matches(self, header: dict[str, Any]) -> bool:
        try:
            cost = float(header["cost"])
            signature = tuple(float(s) for s in header["signature"])
            spread = max(self.spread, float(header.get("spread", 0.0)))
        except (KeyError, TypeError, ValueError):
            return False
        if header.get("key") != self.key or len(signature) != len(self.signature):
            return False
        # Same function at the same point: the same cost up to its noise and round-off.
        scale = max(abs(cost), abs(self.cost))
        if abs(cost - self.cost) > 10 * spread + 8 * np.finfo(float).eps * scale:
            return False
        return all(
            abs(a - b) <= 1e-8 * max(abs(a), abs(b), 1e-300)
            for a, b in zip(signature, self.signature, strict=True)
        )


def fingerprint(
    x: np.ndarray, settings: str, version: str, cost: float, gradient: np.ndarray, spread: float
) -> Fingerprint:
    """The fingerprint of checking f at x with the given settings."""
    digest = hashlib.sha256(np.ascontiguousarray(x).tobytes())
    digest.update(f"{settings}|{version}".encode())
    rng = np.random.default_rng(20_111)  # fixed: the same directions in every run
    g = np.nan_to_num(np.asarray(gradient, dtype=float))
    signature = tuple(float(g @ rng.standard_normal(g.size)) for _ in range(3))
    return Fingerprint(digest.hexdigest(), float(cost), signature, float(spread))


@dataclass
class Checkpoint:
    """The evaluations of one problem in a file: ``get`` what is there, ``record`` what is new."""

    path: Path
    fingerprint: Fingerprint
    notes: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict)
    _pending: list[str] = field(default_factory=list)
    _flushed: float = field(default_factory=time.monotonic)

    @classmethod
    def open(cls, path: str | os.PathLike[str], fp: Fingerprint) -> Checkpoint:
        """The checkpoint of this problem at ``path``, or beside it if ``path`` holds another's.

        Beside means ``NAME-<key>.jsonl`` (same point and settings, another function) and, if
        that too holds another problem, ``NAME-<exact fingerprint>.jsonl``.
        """
        path = Path(path)
        exact = hashlib.sha1(repr(tuple(fp)).encode()).hexdigest()[:10]
        candidates = [
            path,
            *(path.with_name(f"{path.stem}-{t}{path.suffix}") for t in (fp.key[:10], exact)),
        ]
        for place in candidates:
            checkpoint = cls(place, fp)
            if not place.exists() or place.stat().st_size == 0:
                checkpoint._write_header()
            elif not checkpoint._load() and place != candidates[-1]:
                continue
            if place != path:
                checkpoint.notes.insert(
                    0,
                    f"checkpoint {path} belongs to another problem (another function, point, "
                    "settings or gradcheck version): not reused; this run's evaluations are "
                    f"saved in {place}.",
                )
            return checkpoint
        raise AssertionError("unreachable: the last candidate is always used")

    def _load(self) -> bool:
        """Read the file if it is this problem's; False if it belongs to another."""
        header, records, torn = _read(self.path)
        if header is None or not self.fingerprint.matches(header):
            return False
        self._cache = records
        with self.path.open("rb+") as raw:  # a torn last line: end it before appending
            raw.seek(-1, os.SEEK_END)
            if raw.read(1) != b"\n":
                raw.write(b"\n")
        if torn:
            self.notes.append(
                f"checkpoint {self.path}: {torn} unreadable line{'s' if torn > 1 else ''} (torn "
                "by an interrupted write) skipped; those points were evaluated again."
            )
        return True

    def get(self, key: str) -> Any:
        return self._cache.get(key)

    def record(self, key: str, value: complex) -> None:
        self._cache[key] = value
        v = complex(value)
        cost: Any = [v.real, v.imag] if v.imag else v.real
        self._pending.append(json.dumps({"key": key, "cost": cost}) + "\n")
        if len(self._pending) >= FLUSH_EVERY or time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write what is pending to disk (and make the OS write it: a kill loses nothing)."""
        self._flushed = time.monotonic()
        if not self._pending:
            return
        with self.path.open("a", encoding="utf-8") as out:
            out.writelines(self._pending)
            out.flush()
            os.fsync(out.fileno())
        self._pending.clear()

    def _write_header(self) -> None:
        fp = self.fingerprint
        header = {
            "format": FORMAT,
            "key": fp.key,
            "cost": fp.cost,
            "signature": list(fp.signature),
            "spread": fp.spread,
        }
        self.path.write_text(json.dumps(header) + "\n", encoding="utf-8")


def _read(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any], int]:
    """The header, the evaluations by key, and how many lines could not be read."""
    header: dict[str, Any] | None = None
    records: dict[str, Any] = {}
    torn = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if number == 0:
                    header = item if item.get("format") == FORMAT else None
                    continue
                value = item["cost"]
                records[str(item["key"])] = (
                    complex(*value) if isinstance(value, list) else float(value)
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                if number == 0:
                    return None, {}, 0
                torn += 1
    return header, records, torn
