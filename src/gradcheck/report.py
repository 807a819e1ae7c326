"""Results of a gradient check, as plain data: ``Report`` and ``Diagnosis``.

A report holds numbers and names only — never the function or the point — so it pickles, travels
between processes and can be kept. Text and HTML come from :mod:`gradcheck.render`, figures from
:mod:`gradcheck.plot` (a figure that needs new evaluations takes the function explicitly).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from . import plot as _plot
from . import render as _render
from .layout import Layout, entry_name
from .vocabulary import KINDS
from .vocabulary import MODES as _MODES

# The diagnosis vocabulary (stable strings, see DESIGN.md) and whether each kind fails the check.
SEVERITY = {name: kind.severity for name, kind in KINDS.items()}  # one row per kind there

# Fixed vocabularies of the report's structured fields (``to_dict`` carries them as they are).
MODES = tuple(_MODES)  # full, directional, sample, none (nothing compared)
STEP_POLICIES = ("chosen", "given", "none")
WORST_SHOWN = 10


class BlockRow(NamedTuple):
    """One block of a report: its name, shape, entries checked and wrong, and the worst
    relative error among those checked (None: none checked). ``row["name"]`` reads a field by
    name too (the rows were dicts before)."""

    name: str
    shape: tuple[int, ...]
    checked: int
    wrong: int
    worst_relative_error: float | None

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            if key not in self._fields:
                raise KeyError(key)
            return getattr(self, key)
        return tuple.__getitem__(self, key)

    def as_dict(self) -> dict[str, Any]:
        """The row for JSON (the shape as a list)."""
        return {**self._asdict(), "shape": list(self.shape)}


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """One explanation of what is wrong (or a warning about the check itself).

    Attributes
    ----------
    kind : str
        One of the vocabulary in ``SEVERITY`` (``'sign'``, ``'scale'``, ``'regularization'``, …).
    message : str
        One or two sentences a learner can act on, naming blocks and entries.
    block : str or None
        The block the entries lie in, when they lie in one.
    indices : ndarray of int or None
        Flat indices of the entries involved.
    factor : float or None
        ``c`` (analytic/numeric) for ``scale``, ``κ`` for ``regularization``, ε_f for ``noisy``.
    severity : {'fail', 'warning'}
        Whether it fails the check; each kind has its own (``SEVERITY``), except
        ``nondeterministic``, a warning while the check stays decisive.
    headline : str
        A short phrase for the verdict line (``f is stateful (…)``).
    """

    kind: str
    message: str
    block: str | None = None
    indices: np.ndarray | None = None
    factor: float | None = None
    severity: str = ""  # 'fail' or 'warning'; empty: the kind's own (SEVERITY)
    headline: str = ""  # a short phrase for the verdict line; empty: derived from the kind

    def __post_init__(self) -> None:
        if self.kind not in SEVERITY:
            raise ValueError(f"kind must be one of {sorted(SEVERITY)}, got {self.kind!r}.")
        if self.severity not in ("", "fail", "warning"):
            raise ValueError(f"severity must be 'fail' or 'warning', got {self.severity!r}.")
        if not self.severity:
            object.__setattr__(self, "severity", SEVERITY[self.kind])
        if self.indices is not None:
            object.__setattr__(self, "indices", np.asarray(self.indices, dtype=np.intp).ravel())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "block": self.block,
            "indices": None if self.indices is None else self.indices.tolist(),
            "factor": None if self.factor is None else float(self.factor),
            "message": self.message,
        }


@dataclass(frozen=True, eq=False)
class Report:
    """What a gradient check found.

    ``ok`` is True when no entry is wrong and no diagnosis fails; warnings never make it False.
    Per-entry arrays (``numeric``, ``analytic``, ``error``, ``tolerance``, ``step``) have the
    length of ``x``, with NaN on entries that were not checked. ``method`` is one of
    ``gradcheck.differences.METHODS``, ``mode`` one of ``MODES``, ``step_policy`` one of
    ``STEP_POLICIES`` (``'chosen'`` per entry from the noise, ``'given'`` by the caller).
    """

    ok: bool
    relative_difference: float
    mismatched: np.ndarray
    diagnoses: list[Diagnosis]
    evaluations: int
    checked: np.ndarray
    numeric: np.ndarray
    analytic: np.ndarray
    error: np.ndarray
    tolerance: np.ndarray
    step: np.ndarray
    layout: Layout | None
    method: str
    mode: str
    step_policy: str
    noise: float
    cost: float
    seconds: float
    rtol: float
    atol: float
    safety: float
    notes: list[str] = field(default_factory=list)
    seconds_in_f: float = float("nan")
    directions: int = 0  # directional mode: random directions tested for the verdict
    incomplete: str = ""  # why the check could not finish ("" when it did)
    # directional mode: the smallest error in one entry (with |x_i| ≤ 1) that the verdict's
    # directions would have caught, except with probability MISS (NaN in full mode)
    resolution: float = float("nan")

    def name(self, i: int) -> str:
        """``Theta2[0, 0]`` with blocks, ``x[17]`` without."""
        return entry_name(self.layout, i)

    @property
    def relative_errors(self) -> np.ndarray:
        """Per entry ``|a − n| / max(|a|, |n|)`` (0 where both are 0, NaN where unchecked)."""
        a, n = self.analytic, self.numeric
        den = np.maximum(np.abs(a), np.abs(n))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(den > 0, np.abs(a - n) / den, 0.0)
        return np.where(np.isnan(n), np.nan, rel)

    def worst(self, count: int = WORST_SHOWN) -> np.ndarray:
        """Flat indices of the checked entries closest to (or furthest over) their tolerance."""
        idx = self.checked
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(self.analytic[idx] - self.numeric[idx]) / self.tolerance[idx]
        ratio = np.nan_to_num(ratio, nan=np.inf)
        return idx[np.argsort(-ratio, kind="stable")[:count]]

    def blocks(self) -> list[BlockRow]:
        """Per block: name, shape, entries checked and wrong, worst relative error."""
        if self.layout is None:
            return []
        checked = np.zeros(self.numeric.size, bool)
        checked[self.checked] = True
        wrong = np.zeros(self.numeric.size, bool)
        wrong[self.mismatched] = True
        rel = self.relative_errors
        rows = []
        for name, shape in self.layout.blocks.items():
            s = self.layout.slice(name)
            r = rel[s][checked[s]]
            rows.append(
                BlockRow(
                    name,
                    tuple(shape),
                    int(checked[s].sum()),
                    int(wrong[s].sum()),
                    float(np.max(r)) if r.size else None,
                )
            )
        return rows

    def summary(self) -> str:
        """The one-line verdict."""
        return _render.summary(self)

    def __str__(self) -> str:
        return _render.text(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (schema in the README, section "The report")."""
        rel = self.relative_errors
        wrong = set(self.mismatched.tolist())
        return {
            "ok": bool(self.ok),
            "headline": _render.headline(self),
            "relative_difference": json_float(self.relative_difference),
            "evaluations": int(self.evaluations),
            "seconds": float(self.seconds),
            "seconds_in_f": json_float(self.seconds_in_f),
            "n": int(self.numeric.size),
            "checked": int(self.checked.size),
            "method": self.method,
            "mode": self.mode,
            "directions": int(self.directions),
            "resolution": json_float(self.resolution),
            "step_policy": self.step_policy,
            "incomplete": self.incomplete or None,
            "noise": json_float(self.noise),
            "cost": json_float(self.cost),
            "tolerances": {"rtol": self.rtol, "atol": self.atol, "safety": self.safety},
            "mismatched": self.mismatched.tolist(),
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "blocks": [row.as_dict() for row in self.blocks()],
            "worst": [
                {
                    "index": int(i),
                    "name": self.name(i),
                    "numeric": json_float(self.numeric[i]),
                    "analytic": json_float(self.analytic[i]),
                    "abs_error": json_float(abs(self.analytic[i] - self.numeric[i])),
                    "rel_error": json_float(rel[i]),
                    "tolerance": json_float(self.tolerance[i]),
                    "allowed_rel_error": json_float(_allowed_relative(self, i)),
                    "step": json_float(self.step[i]),
                    "mismatched": int(i) in wrong,
                }
                for i in self.worst()
            ],
            "notes": list(self.notes),
        }

    def plot(self, kind: str = "heatmap", **kwargs: Any) -> Any:
        """A matplotlib figure: ``'heatmap'``, ``'scatter'``, or ``'steps'`` (which evaluates f
        again and so needs ``f=`` and ``x=``); see :mod:`gradcheck.plot`."""
        return _plot.plot(self, kind, **kwargs)

    def to_html(
        self,
        *,
        figures: bool = True,
        f: Callable[..., Any] | None = None,
        x: Any = None,
        args: tuple = (),
        kwargs: dict[str, Any] | None = None,
    ) -> str:
        """One self-contained HTML page: verdict, diagnoses, tables and figures (embedded PNG).

        The error-versus-step figure evaluates f again: it is included when ``f`` and ``x`` are
        given (with the ``args``/``kwargs`` of the check).
        """
        again = {"f": f, "x": x, "args": args, "kwargs": kwargs} if f is not None else None
        if again is not None and x is None:
            raise TypeError("to_html(f=...) also needs x=, the point the report was made at.")
        return _render.html_page(self, figures=figures, again=again)

    def _repr_html_(self) -> str:
        return _render.html_fragment(self)


def _allowed_relative(report: Report, i: int) -> float:
    """The tolerance of entry i as a relative error, comparable with its ``rel_error``."""
    den = max(abs(report.analytic[i]), abs(report.numeric[i]))
    return float(report.tolerance[i] / den) if den > 0 else float("nan")


def json_float(v: Any) -> float | None:
    """A float for JSON: NaN and infinities become None (``null``)."""
    v = float(v)
    return v if math.isfinite(v) else None
