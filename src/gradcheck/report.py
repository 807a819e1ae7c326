"""Results of a gradient check: ``Report`` and ``Diagnosis``, as text, JSON-ready dicts and HTML."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import Layout, entry_name

# The diagnosis vocabulary (stable strings, see DESIGN.md) and whether each kind fails the check.
SEVERITY = {
    "nondeterministic": "fail",
    "mutates_input": "fail",
    "nonfinite": "fail",
    "sign": "fail",
    "scale": "fail",
    "layout": "fail",
    "regularization": "fail",
    "zero": "fail",
    "localized": "fail",
    "noisy": "warning",
    "precision": "warning",
    "kink": "warning",
}

WORST_SHOWN = 10


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
    """

    kind: str
    message: str
    block: str | None = None
    indices: np.ndarray | None = None
    factor: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SEVERITY:
            raise ValueError(f"kind must be one of {sorted(SEVERITY)}, got {self.kind!r}.")
        if self.indices is not None:
            object.__setattr__(self, "indices", np.asarray(self.indices, dtype=np.intp).ravel())

    @property
    def severity(self) -> str:
        """``'fail'`` or ``'warning'``."""
        return SEVERITY[self.kind]

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
    length of ``x``, with NaN on entries that were not checked.
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
    function: Any = field(default=None, repr=False)  # f, for plots that evaluate it again
    x: np.ndarray | None = field(default=None, repr=False)

    # ----- naming -------------------------------------------------------------------------
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

    def _worst(self) -> np.ndarray:
        idx = self.checked
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.abs(self.analytic[idx] - self.numeric[idx]) / self.tolerance[idx]
        ratio = np.nan_to_num(ratio, nan=np.inf)
        order = np.argsort(-ratio, kind="stable")
        return idx[order[:WORST_SHOWN]]

    def _blocks(self) -> list[dict[str, Any]]:
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
                {
                    "name": name,
                    "shape": list(shape),
                    "checked": int(checked[s].sum()),
                    "wrong": int(wrong[s].sum()),
                    "worst_relative_error": float(np.max(r)) if r.size else None,
                }
            )
        return rows

    # ----- rendering ----------------------------------------------------------------------
    def summary(self) -> str:
        """The one-line verdict."""
        verdict = "PASS" if self.ok else "FAIL"
        n = self.numeric.size
        wrong = self.mismatched.size
        if self.mode == "directional":
            found = (
                f"{wrong} wrong entr{'y' if wrong == 1 else 'ies'} found among {n}"
                if wrong
                else f"all {n} entries agree along every direction"
            )
        elif wrong:
            found = f"{wrong} of {self.checked.size} entries wrong"
        else:
            found = f"all {self.checked.size} entries checked agree"
        warnings = [d.kind for d in self.diagnoses if d.severity == "warning"]
        extra = f"; warnings: {', '.join(warnings)}" if warnings else ""
        method = self.method if "differences" in self.method else f"{self.method} differences"
        return (
            f"gradcheck {verdict}: {found}; relative difference (Ng) {_fmt(self.relative_difference)}; "
            f"{self.evaluations} evaluations in {self.seconds:.2f} s; {method}, "
            f"{self.step_policy}; {self.mode} mode{extra}"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        if self.diagnoses:
            lines.append("")
            lines.append("Diagnoses:")
            lines += [f"  [{d.kind}] {d.message}" for d in self.diagnoses]
        blocks = self._blocks()
        if len(blocks) > 1 or (blocks and blocks[0]["name"] != "x"):
            lines.append("")
            lines.append(
                f"  {'block':<12}{'shape':<12}{'checked':>9}{'wrong':>8}{'worst rel err':>15}"
            )
            for b in blocks:
                shape = "×".join(str(d) for d in b["shape"])
                lines.append(
                    f"  {b['name']:<12}{shape:<12}{b['checked']:>9}{b['wrong']:>8}{_fmt(b['worst_relative_error']):>15}"
                )
        worst = self._worst()
        if worst.size:
            lines.append("")
            lines.append("Worst entries:" if self.mismatched.size else "Closest to tolerance:")
            lines.append(
                f"  {'entry':<16}{'numeric':>13}{'analytic':>13}{'abs err':>11}{'rel err':>10}{'tolerance':>11}{'step':>10}"
            )
            rel = self.relative_errors
            for i in worst:
                mark = " ✗" if i in set(self.mismatched.tolist()) else ""
                lines.append(
                    f"  {self.name(i):<16}{_fmt(self.numeric[i], 13)}{_fmt(self.analytic[i], 13)}"
                    f"{_fmt(abs(self.analytic[i] - self.numeric[i]), 11)}{_fmt(rel[i], 10)}"
                    f"{_fmt(self.tolerance[i], 11)}{_fmt(self.step[i], 10)}{mark}"
                )
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (schema in the README, section "Report schema")."""
        rel = self.relative_errors
        return {
            "ok": bool(self.ok),
            "relative_difference": _json_float(self.relative_difference),
            "evaluations": int(self.evaluations),
            "seconds": float(self.seconds),
            "seconds_in_f": _json_float(self.seconds_in_f),
            "n": int(self.numeric.size),
            "checked": int(self.checked.size),
            "method": self.method,
            "mode": self.mode,
            "step_policy": self.step_policy,
            "noise": _json_float(self.noise),
            "cost": _json_float(self.cost),
            "tolerances": {"rtol": self.rtol, "atol": self.atol, "safety": self.safety},
            "mismatched": self.mismatched.tolist(),
            "diagnoses": [d.to_dict() for d in self.diagnoses],
            "blocks": self._blocks(),
            "worst": [
                {
                    "index": int(i),
                    "name": self.name(i),
                    "numeric": _json_float(self.numeric[i]),
                    "analytic": _json_float(self.analytic[i]),
                    "abs_error": _json_float(abs(self.analytic[i] - self.numeric[i])),
                    "rel_error": _json_float(rel[i]),
                    "tolerance": _json_float(self.tolerance[i]),
                    "step": _json_float(self.step[i]),
                    "mismatched": bool(i in set(self.mismatched.tolist())),
                }
                for i in self._worst()
            ],
            "notes": list(self.notes),
        }

    def plot(self, kind: str = "heatmap", **kwargs: Any) -> Any:
        """A matplotlib figure: ``'heatmap'``, ``'scatter'`` or ``'steps'`` (see gradcheck.plot)."""
        from .plot import plot

        return plot(self, kind, **kwargs)

    def to_html(self, *, figures: bool = True) -> str:
        """One self-contained HTML page: summary, diagnoses, tables, figures embedded as PNG."""
        body = self._html_body(figures=("heatmap", "scatter", "steps") if figures else ())
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>gradcheck report</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}img{max-width:100%}"
            "</style></head><body><h1>gradcheck report</h1>" + body + "</body></html>"
        )

    def _repr_html_(self) -> str:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return self._html_body(figures=())
        return self._html_body(figures=("heatmap",))

    def _html_body(self, figures: tuple[str, ...]) -> str:
        d = self.to_dict()
        colour = "#1a7f37" if self.ok else "#cf222e"
        parts = [
            f"<div class='gradcheck-report'><p style='color:{colour}'><b>{html.escape(self.summary())}</b></p>"
        ]
        if self.diagnoses:
            parts.append(
                "<ul>"
                + "".join(
                    f"<li><code>{html.escape(x.kind)}</code> {html.escape(x.message)}</li>"
                    for x in self.diagnoses
                )
                + "</ul>"
            )
        if d["blocks"]:
            parts.append(
                _html_table(
                    ["block", "shape", "checked", "wrong", "worst rel err"],
                    [
                        [
                            b["name"],
                            "×".join(map(str, b["shape"])),
                            b["checked"],
                            b["wrong"],
                            _fmt(b["worst_relative_error"]),
                        ]
                        for b in d["blocks"]
                    ],
                )
            )
        parts.append(
            _html_table(
                ["entry", "numeric", "analytic", "abs err", "rel err", "tolerance", "step"],
                [
                    [
                        w["name"],
                        _fmt(w["numeric"]),
                        _fmt(w["analytic"]),
                        _fmt(w["abs_error"]),
                        _fmt(w["rel_error"]),
                        _fmt(w["tolerance"]),
                        _fmt(w["step"]),
                    ]
                    for w in d["worst"]
                ],
            )
        )
        for kind in figures:
            if kind == "steps" and (self.function is None or not self.checked.size):
                continue
            from .plot import img_tag

            parts.append(f"<h3>{kind}</h3>" + img_tag(self.plot(kind), kind))
        notes = "".join(f"<p>Note: {html.escape(n)}</p>" for n in self.notes)
        return "".join(parts) + notes + "</div>"


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any, width: int = 0) -> str:
    if v is None:
        s = "-"
    else:
        v = float(v)
        s = f"{v:.3g}" if math.isfinite(v) and (v == 0 or 1e-3 <= abs(v) < 1e4) else f"{v:.2e}"
    return f"{s:>{width}}" if width else s


def _json_float(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
