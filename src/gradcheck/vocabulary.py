"""The report's stable words, one row each: the diagnosis kinds and the modes.

Everything the package knows about a kind or a mode that is not an algorithm is read from these
rows: whether a kind fails the check and what it means (``report.SEVERITY``, the hypotheses of
:mod:`gradcheck.diagnose` carry their kind's row), which entries a mode's plan checks, whether it
compares entry by entry or along random directions, and the words the renderer uses for it.
The strings are public (DESIGN.md's vocabulary): add rows, never rename one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Kind(NamedTuple):
    """A diagnosis kind: its stable name, whether it fails the check, what it means, and
    whether it is about f itself rather than its gradient (said first: it makes the rest less
    certain)."""

    name: str
    severity: str  # 'fail' or 'warning' (a Diagnosis may override it: nondeterministic)
    means: str
    about_f: bool = False


KINDS = {
    k.name: k
    for k in (
        Kind("nondeterministic", "fail", "f(x) differs between calls at the same x", True),
        Kind("stateful", "fail", "f's cost or gradient at x depends on the calls before", True),
        Kind("mutates_input", "fail", "f modified the array it was given", True),
        Kind("nonfinite", "fail", "f returned NaN or inf at x or at a perturbed point", True),
        Kind("inconsistent", "fail", "a cost-only function and f's cost differ at a point", True),
        Kind("sign", "fail", "analytic ≈ −numeric"),
        Kind("scale", "fail", "analytic ≈ c·numeric, c ≠ ±1"),
        Kind("layout", "fail", "analytic matches numeric after reordering a block"),
        Kind("regularization", "fail", "numeric − analytic ≈ κ·x on a set of entries"),
        Kind("zero", "fail", "analytic is zero where numeric clearly is not"),
        Kind("localized", "fail", "wrong on a set of entries with no simpler explanation"),
        Kind(
            "transpose", "fail", "a Jacobian or a square block equals the numerical one transposed"
        ),
        Kind("noisy", "warning", "f is noisy at the level ε_f; the step adapted"),
        Kind("precision", "warning", "f computes in low precision (float32 or less)"),
        Kind("kink", "warning", "the difference crosses a non-differentiable point or a staircase"),
        Kind("degenerate", "warning", "x hides bugs (a block zero or constant, a symmetric block)"),
    )
}


def _every_entry(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n)


def _no_entry(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.array([], dtype=np.intp)


SAMPLE_SIZE = 100  # entries a sample-mode check draws (all of them when x has fewer)


def _sampled(n: int, rng: np.random.Generator) -> np.ndarray:
    if n <= SAMPLE_SIZE:
        return np.arange(n)
    return np.sort(rng.choice(n, size=SAMPLE_SIZE, replace=False))


class Mode(NamedTuple):
    """A mode of comparison: which entries its plan checks, whether it compares along random
    directions instead of entry by entry, whether ``check(mode=)`` may ask for it, and the
    renderer's words for its method and steps (None: the scheme's own)."""

    name: str
    entries: Callable[[int, np.random.Generator], np.ndarray]
    by_direction: bool = False
    asked: bool = True
    method: str | None = None  # formatted with ``directions``
    steps: str | None = None


MODES = {
    m.name: m
    for m in (
        Mode("full", _every_entry),
        Mode(
            "directional",
            _no_entry,  # directions, not entries
            by_direction=True,
            method="central differences along {directions} random directions",
            steps="steps from the error model along each direction",
        ),
        Mode("sample", _sampled),
        Mode("none", _no_entry, asked=False),  # nothing compared (f unusable at x)
    )
}
