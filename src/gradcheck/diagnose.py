"""Naming the bug behind a mismatch: one table of hypotheses, tested over entries or directions.

Each kind is a hypothesis "the analytic gradient is T(the true one)" for a simple T: negated;
zero on a set; scaled by c; a block read in the other order (C↔F, which is also a transpose);
missing κ·x on a set (an L2 term the cost and the gradient disagree about). ``HYPOTHESES`` holds
one row per kind — its test, the least number of wrong entries it needs, its message — in the
order they are tried, simplest first. A row is written once, against a :class:`View`:

- an **entry view** compares analytic and numeric entry by entry (full and sample mode, and the
  entries directional mode localised);
- a **direction view** compares ``analytic·v`` with the directional difference along each of a
  few random directions v (directional mode, before anything is localised).

Hypotheses are tried on the whole vector, then block by block; one is accepted only when it
explains every item of its scope within the error model. What no hypothesis explains is
``localized``. Full and directional mode therefore name the same bug the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .layout import (
    Layout,
    entries,
    entry_name,
    entry_names,
    other_order,
    pattern,
    scope_name,
    set_name,
)
from .precision import EPS
from .report import Diagnosis
from .vocabulary import KINDS, Kind

if TYPE_CHECKING:  # pragma: no cover
    from .compare import Comparison, Tolerances

# A hypothesis may miss by up to this multiple of the item's tolerance: the tolerance is about
# the numeric estimate, and a hypothesis also carries the fitted factor's error.
SLACK = 2.0
SIGNIFICANT = 5.0  # a fitted parameter is named only beyond this many times its uncertainty


@dataclass(frozen=True)
class View:
    """One scope (the whole vector or a block) seen through some items: entries or directions.

    ``observed`` and ``analytic_items`` are the numeric and analytic derivative per item,
    ``tolerance`` the error model's per item; ``project`` maps a full-length vector to its items
    (a selection for entries, dot products for directions). ``suspects`` are the entries under
    suspicion: the mismatched entries of the scope (entries), or the whole scope (directions).
    """

    observed: np.ndarray
    analytic_items: np.ndarray
    tolerance: np.ndarray
    rtol: float
    project: Callable[[np.ndarray], np.ndarray]
    scope: np.ndarray
    suspects: np.ndarray
    analytic: np.ndarray  # the whole analytic gradient
    x: np.ndarray
    layout: Layout | None
    block: str | None
    by_entry: bool  # entries (suspects exactly known) or directions
    label: str | None = None  # the scope's name when it is not a block (a row, a column)

    def fits(self, lhs: np.ndarray, rhs: np.ndarray, scale: float = 1.0) -> bool:
        """Whether ``lhs ≈ rhs`` on every item within the error model."""
        slack = SLACK * (self.tolerance * max(1.0, abs(scale)) + self.rtol * np.abs(rhs))
        return bool(np.all(np.abs(lhs - rhs) <= slack))

    def on(self, vector: np.ndarray, subset: np.ndarray) -> np.ndarray:
        """``vector`` restricted to ``subset`` (zero elsewhere), projected on the items."""
        masked = np.zeros_like(self.analytic)
        masked[subset] = vector[subset]
        return self.project(masked)

    def implicated(self) -> np.ndarray:
        """The entries a scope-wide diagnosis names: the suspects (entries), or the scope's
        entries with a nonzero analytic value (directions)."""
        if self.by_entry:
            return self.suspects
        return self.scope[self.analytic[self.scope] != 0]

    @property
    def name(self) -> str:
        return self.label or scope_name(self.layout, self.block)


def entry_view(
    *,
    analytic: np.ndarray,
    numeric: np.ndarray,
    tolerance: np.ndarray,
    rtol: float,
    scope: np.ndarray,
    mismatched: np.ndarray,
    x: np.ndarray,
    layout: Layout | None,
    block: str | None,
) -> View:
    """The entries of ``scope`` (checked entries only)."""
    return View(
        observed=numeric[scope],
        analytic_items=analytic[scope],
        tolerance=tolerance[scope],
        rtol=rtol,
        project=lambda v: v[scope],
        scope=scope,
        suspects=mismatched[np.isin(mismatched, scope)],
        analytic=analytic,
        x=x,
        layout=layout,
        block=block,
        by_entry=True,
    )


def direction_view(
    *,
    numeric: np.ndarray,
    analytic_items: np.ndarray,
    tolerance: np.ndarray,
    rtol: float,
    directions: list[Callable[[], tuple[Any, np.ndarray]]],
    analytic: np.ndarray,
    x: np.ndarray,
    layout: Layout | None,
    block: str | None,
    scope: np.ndarray | None = None,
    label: str | None = None,
) -> View:
    """Directions over a scope: a block's entries, all of them, or ``scope`` (a row, a column,
    named ``label``). Each direction is a callable giving ``(indices, values)``, drawn when
    needed, so that no direction of n entries is kept."""
    if scope is None and block is not None and layout is not None:
        scope = layout.indices(block)
    elif scope is None:
        scope = np.arange(analytic.size)

    def project(vector: np.ndarray) -> np.ndarray:
        return np.array([vector[idx] @ v for idx, v in (d() for d in directions)])

    return View(
        observed=numeric,
        analytic_items=analytic_items,
        tolerance=tolerance,
        rtol=rtol,
        project=project,
        scope=scope,
        suspects=scope,
        analytic=analytic,
        x=x,
        layout=layout,
        block=block,
        by_entry=False,
        label=label,
    )


# ----- the hypotheses -----------------------------------------------------------------------------


def _sign(view: View) -> Diagnosis | None:
    if not view.fits(view.analytic_items, -view.observed):
        return None
    return Diagnosis(
        "sign",
        f"{view.name}: your gradient has the opposite sign of the numerical one (analytic ≈ "
        "−numeric). Look for a flipped sign: h − y written as y − h, a gradient of −J, or a "
        "subtraction the wrong way round.",
        block=view.block,
        indices=view.implicated(),
        factor=-1.0,
    )


def _zero(view: View) -> Diagnosis | None:
    if not view.fits(view.on(view.analytic, view.suspects), np.zeros(view.observed.size)):
        return None
    where = set_name(view.layout, view.suspects) if view.by_entry else f"{view.name}, all of it"
    return Diagnosis(
        "zero",
        f"{where}: your gradient is 0 where the numerical gradient is not "
        f"({entries(view.suspects.size)}). This part of the gradient is never written: an "
        "accumulator left at zeros, or a loop that skips it.",
        block=view.layout.block_of(view.suspects) if view.layout is not None else None,
        indices=view.suspects,
    )


def _scale(view: View) -> Diagnosis | None:
    factor = scale_factor(view.analytic_items, view.observed)
    if factor is None or not view.fits(view.analytic_items, factor * view.observed, factor):
        return None
    mag = abs(factor)
    intro = f"{view.name}: your gradient is {factor:.6g} × the numerical one. "
    if mag > 1 and abs(mag - round(mag)) < 1e-3 * mag:
        why = (
            f"A whole factor of {round(mag)} usually is a missing division: by m, the number "
            "of examples (1/m), or by a batch size."
        )
    elif mag < 1 and abs(1 / mag - round(1 / mag)) < 1e-3 / mag:
        why = (
            f"It is {round(1 / mag)} times too small: a division applied twice (1/m in both the "
            "delta and the sum?) or a stray factor 1/2."
        )
    else:
        why = "A constant factor: look for a missing or extra multiplier (a learning rate, λ, 1/m)."
    return Diagnosis(
        "scale", intro + why, block=view.block, indices=view.implicated(), factor=factor
    )


def scale_factor(a: np.ndarray, n: np.ndarray) -> float | None:
    """Least-squares c in a ≈ c·n, or None when c is 0, ±1 or undefined (other hypotheses)."""
    top = float(np.max(np.abs(n), initial=0.0))
    if not (np.isfinite(top) and top > 0):
        return None
    n, a = n / top, a / top  # scaled: squares of 1e200 would overflow
    nn = float(n @ n)
    factor = float(a @ n) / nn
    if abs(factor) < 1e-3 or abs(abs(factor) - 1) < 1e-3 or (factor < 0 and abs(factor + 1) < 0.05):
        return None
    return factor


def _layout(view: View) -> Diagnosis | None:
    if view.layout is None:
        return None
    names = [view.block] if view.block is not None else list(view.layout.names)
    fixed, touched = reordered(view.analytic, view.layout, names)
    if not touched:
        return None
    inside = np.isin(view.suspects, np.concatenate([view.layout.indices(b) for b in touched]))
    if not np.all(inside) or not view.fits(view.project(fixed), view.observed):
        return None
    order = view.layout.order
    other = other_order(order)
    major = "column" if other == "F" else "row"
    indices = view.suspects if view.by_entry else np.flatnonzero(fixed != view.analytic)
    return Diagnosis(
        "layout",
        f"{', '.join(touched)}: your gradient matches the numerical one once reordered — it is "
        f"unrolled in {other} order ({major}-major) while the parameters are in {order} order "
        f"(or, the same thing, it is the transpose of the right matrix). Unroll the gradient like "
        f"the parameters (ravel(order='{order}'), or transpose it first), or, if your parameters "
        f"really are {other}-ordered, check with order='{other}'.",
        block=view.block if view.block is not None else (touched[0] if len(touched) == 1 else None),
        indices=indices,
    )


def reordered(
    analytic: np.ndarray, layout: Layout, names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """The gradient with each named 2-D block read back in the other order.

    Unrolling a matrix in the other order is the same as unrolling its transpose in this one,
    so one test covers both mistakes.
    """
    other = other_order(layout.order)
    fixed = analytic.copy()
    touched = []
    for name in names:
        if not layout.is_matrix(name):
            continue
        s = layout.slice(name)
        fixed[s] = analytic[s].reshape(layout.blocks[name], order=other).ravel(order=layout.order)
        touched.append(name)
    return fixed, touched


def _regularization(view: View) -> Diagnosis | None:
    """numeric − analytic = κ·x on a set S of entries: fitted on each candidate set; of those
    that fit every item, the one that fits best (a bias column, not the whole block around it)."""
    best: tuple[float, np.ndarray, float] | None = None
    residual = view.observed - view.analytic_items
    x = view.x if np.isfinite(np.sum(view.x)) else np.where(np.isfinite(view.x), view.x, 0.0)
    for subset in _regularization_sets(view):
        # Seen on each item: κ·(x restricted to S), projected like the gradient.
        xs = view.on(x, subset)
        xx = float(xs @ xs)
        if xx == 0:
            continue
        kappa = float(xs @ residual) / xx
        # κ must be clearly non-zero beyond its own uncertainty (each item's residual is known
        # to within its tolerance): a κ of −6e-12 fitted to round-off is no L2 term.
        uncertainty = float(np.sqrt(np.sum((xs * view.tolerance) ** 2))) / xx
        if not abs(kappa) > SIGNIFICANT * uncertainty:
            continue
        if not view.fits(view.analytic_items, view.observed - kappa * xs):
            continue
        misfit = float(np.sum(((residual - kappa * xs) / view.tolerance) ** 2))
        if best is None or misfit < best[0]:
            best = (misfit, subset, kappa)
    return None if best is None else _regularization_diagnosis(view, best[1], best[2])


def _regularization_sets(view: View) -> list[np.ndarray]:
    """Where an L2 term typically goes missing: the suspects (entries); along directions, the
    scope, and — for the whole vector or a block — its bias columns and the rest."""
    if view.by_entry:
        return [view.suspects]
    sets = [view.scope]
    layout = view.layout
    if layout is None or view.label is not None:
        return sets
    names = [view.block] if view.block is not None else list(layout.names)
    matrices = [b for b in names if len(layout.blocks[b]) == 2 and layout.blocks[b][1] > 1]
    if matrices:
        bias = np.sort(np.concatenate([layout.column(b, 0) for b in matrices]))
        sets += [bias, np.setdiff1d(view.scope, bias, assume_unique=True)]  # both sets of indices
    return sets


def _regularization_diagnosis(view: View, idx: np.ndarray, kappa: float) -> Diagnosis:
    layout = view.layout
    block = layout.block_of(idx) if layout is not None else None
    bias = _bias_columns(layout, idx)
    what = "this column" if bias == 1 else "these entries"
    if kappa > 0:
        side = (
            f"your cost regularises {what} but your gradient does not (or the reverse: an L2 "
            "term the cost has and the gradient lacks)"
        )
    else:
        side = (
            f"your gradient regularises {what} but your cost does not (or the reverse: an L2 "
            "term the gradient has and the cost lacks)"
        )
    hint = (
        " Check the bias terms of the regularisation: the bias column (column 0) is usually not "
        "regularised, in the cost nor in the gradient."
        if bias
        else " Check that cost and gradient apply the same L2 term (λ/(2m)·Σθ² in the cost ↔ "
        "λ/m·θ in the gradient)."
    )
    return Diagnosis(
        "regularization",
        f"{set_name(layout, idx)}: numeric − analytic = {kappa:.6g} × {block or 'x'} — cost and "
        f"gradient disagree about the regularisation: {side}.{hint}",
        block=block,
        indices=idx,
        factor=kappa,
    )


def _bias_columns(layout: Layout | None, idx: np.ndarray) -> int:
    """How many blocks have exactly their column 0 in ``idx`` (and nothing else of theirs)."""
    if layout is None:
        return 0
    count = 0
    for name, shape in layout.blocks.items():
        inside = idx[np.isin(idx, layout.indices(name))]
        if not inside.size:
            continue
        if len(shape) != 2 or not np.array_equal(np.sort(inside), np.sort(layout.column(name, 0))):
            return 0
        count += 1
    return count


@dataclass(frozen=True)
class Hypothesis:
    """One bug kind — its row of the vocabulary (name, severity, meaning) — its test on a view
    (which writes the diagnosis's message), the least number of wrong entries it needs, and how
    many parameters its test fits (a factor c, a κ)."""

    kind: Kind
    minimum: int
    parameters: int
    test: Callable[[View], Diagnosis | None]


# Tried in this order, on every scope, in every mode.
HYPOTHESES = (
    Hypothesis(KINDS["sign"], 1, 0, _sign),
    Hypothesis(KINDS["zero"], 1, 0, _zero),
    Hypothesis(KINDS["scale"], 2, 1, _scale),
    Hypothesis(KINDS["layout"], 2, 0, _layout),
    Hypothesis(KINDS["regularization"], 2, 1, _regularization),
)


def first_explanation(view: View) -> Diagnosis | None:
    """The first hypothesis of the table that explains the view, or None.

    A hypothesis may miss each item by up to ``SLACK`` tolerances, so only items wrong by more
    than that are evidence for it, and a hypothesis that fits parameters needs more evidence
    than it has parameters: one clearly wrong direction does not make a pattern of κ·x.
    """
    evidence = int(np.sum(np.abs(view.analytic_items - view.observed) > SLACK * view.tolerance))
    for h in HYPOTHESES:
        if (view.by_entry and view.suspects.size < h.minimum) or evidence <= h.parameters:
            continue
        try:
            found = h.test(view)
        except Exception as exc:  # noqa: BLE001 (a bug of ours must not abort the user's check)
            _crashed(h.kind.name, exc)
            continue
        if found is not None:
            return found
    return None


_CRASHES: ContextVar[list[str] | None] = ContextVar("gradcheck_hypothesis_crashes", default=None)


def _crashed(kind: str, exc: Exception) -> None:
    """A hypothesis that raised is skipped (its entries stay ``localized``) and said in a note."""
    notes = _CRASHES.get()
    if notes is not None:
        notes.append(
            f"the {kind!r} hypothesis raised {type(exc).__name__}: {exc} — it was skipped (a "
            "bug in gradcheck: please report it with this note)."
        )


@contextmanager
def crash_notes() -> Iterator[list[str]]:
    """Collect the notes of hypotheses that raised while diagnosing (see :func:`_crashed`)."""
    notes: list[str] = []
    token = _CRASHES.set(notes)
    try:
        yield notes
    finally:
        _CRASHES.reset(token)


def explain_entries(
    *,
    analytic: np.ndarray,
    numeric: np.ndarray,
    tolerance: np.ndarray,
    checked: np.ndarray,
    mismatched: np.ndarray,
    layout: Layout | None,
    x: np.ndarray,
    rtol: float,
) -> list[Diagnosis]:
    """Diagnoses that explain the mismatched entries, most likely first: the whole vector, then
    each block with mismatches; what no hypothesis explains is ``localized``."""

    def view(scope: np.ndarray, block: str | None) -> View:
        return entry_view(
            analytic=analytic,
            numeric=numeric,
            tolerance=tolerance,
            rtol=rtol,
            scope=scope,
            mismatched=mismatched,
            x=x,
            layout=layout,
            block=block,
        )

    found = first_explanation(view(checked, None))
    if found is not None:
        return [found]
    if layout is None:
        return [_localized(view(checked, None), numeric)]
    out = []
    for name in layout.names:
        s = layout.slice(name)
        scope = checked[(checked >= s.start) & (checked < s.stop)]
        v = view(scope, name)
        if v.suspects.size:
            out.append(first_explanation(v) or _localized(v, numeric))
    if all(d.kind == "localized" for d in out):
        return _hint_other_order(
            out, analytic, numeric, tolerance, checked, mismatched, layout, x, rtol
        )
    return out


def _hint_other_order(
    out: list[Diagnosis],
    analytic: np.ndarray,
    numeric: np.ndarray,
    tolerance: np.ndarray,
    checked: np.ndarray,
    mismatched: np.ndarray,
    layout: Layout,
    x: np.ndarray,
    rtol: float,
) -> list[Diagnosis]:
    """Nothing explained under the order given: when a pattern explains the whole vector under
    the other order (a cost that reads F and a gradient written C), say so."""
    flipped = layout.flipped()
    whole = entry_view(
        analytic=analytic, numeric=numeric, tolerance=tolerance, rtol=rtol, scope=checked,
        mismatched=mismatched, x=x, layout=flipped, block=None,
    )  # fmt: skip
    other = first_explanation(whole)
    if other is None:
        return out
    hint = (
        f" Under order='{flipped.order}' these entries are one pattern ({other.kind}: "
        f"{other.message.split('.')[0]}): did you declare order='{layout.order}' for parameters "
        f"your function reads in order='{flipped.order}'?"
    )
    return [replace(d, message=d.message + hint) for d in out]


def _localized(view: View, numeric: np.ndarray) -> Diagnosis:
    idx = view.suspects
    a = view.analytic
    worst = idx[np.argmax(np.abs(a[idx] - numeric[idx]))]
    return Diagnosis(
        "localized",
        f"{set_name(view.layout, idx)}: {entries(idx.size)} wrong with no simpler pattern (not a "
        f"sign, scale, layout or regularisation error); worst {entry_name(view.layout, worst)}: "
        f"analytic {a[worst]:.6g}, numeric {numeric[worst]:.6g}. Re-derive the gradient of this "
        "part (in backprop, the derivative of the activation that feeds it).",
        block=view.block,
        indices=idx,
    )


# ----- the diagnosis stage -------------------------------------------------------------------------


def diagnose(
    c: Comparison, *, analytic: np.ndarray, tol: Tolerances, layout: Layout | None, x: np.ndarray
) -> tuple[list[Diagnosis], list[Diagnosis]]:
    """The comparison's diagnoses, most likely first, and its warnings (kinks)."""
    found: list[Diagnosis] = []
    if c.nonfinite.size:
        # Not checkable (f non-finite at every step tried, shorter and one-sided): named, never
        # a failure of the gradient — unless nothing at all could be checked.
        what = "f is not finite at x ± h for every step tried"
        d = nonfinite_entries(c.nonfinite, layout, what)
        found.append(d if not c.checked.size else replace(d, severity="warning"))
    if c.nonfinite_directions:
        found.append(
            Diagnosis(
                "nonfinite",
                "f is not finite at some points x ± s·v along the random directions, so those "
                "directions could not be compared. Look for log(0), a division by zero or an "
                "overflow near x, or run mode='full' to see which entries.",
                headline="f is not finite near x",
            )
        )
    found += c.patterns
    if c.localised.size:
        # In directional mode only the isolated entries have numbers: the pattern is sought
        # among them (the others passed every test).
        found += explain_entries(
            analytic=analytic,
            numeric=c.numeric,
            tolerance=c.tolerance,
            checked=c.checked,
            mismatched=c.localised,
            layout=layout,
            x=x,
            rtol=tol.rtol,
        )
    if c.unexplained_failure:
        found.append(
            Diagnosis(
                "localized",
                "the directional test failed but no single entry could be isolated: the errors "
                "are spread thinly over many entries, or are near the test's limit. Run "
                "mode='full' to see every entry.",
                headline="the directional test failed, but no wrong entry could be isolated",
            )
        )
    warnings = kink_warning(c.kinks, layout) + stair_warning(c.stairs, layout)
    return [_with_order_hint(d, layout) for d in found], warnings


def _with_order_hint(d: Diagnosis, layout: Layout | None) -> Diagnosis:
    """When the entries are scattered under the given order but a clean pattern (a column, a
    row, a block) under the other, say so: the layout, not the maths, is likely wrong."""
    if layout is None or d.indices is None or d.indices.size < 2:
        return d
    if pattern(layout, d.indices) is not None:
        return d
    flipped = layout.flipped()
    there = pattern(flipped, d.indices)
    if there is None:
        return d
    other = flipped.order
    hint = (
        f" These entries are {there} if the blocks are unrolled in {other} order: did you mean "
        f"order='{other}'?"
    )
    return replace(d, message=d.message + hint)


def nonfinite_entries(idx: np.ndarray, layout: Layout | None, what: str) -> Diagnosis:
    """``nonfinite`` on some entries: the gradient, or f at x ± step, is NaN or infinite."""
    return Diagnosis(
        "nonfinite",
        f"{what} at {entries(idx.size)} ({entry_names(layout, idx)}); these entries were not "
        "compared. Look for log(0), a division by zero or an overflow near x.",
        block=layout.block_of(idx) if layout is not None else None,
        indices=idx,
        headline=f"{what} at {entries(idx.size)}",
    )


# ----- warnings about the check itself ----------------------------------------------------------


def kink_warning(kinks: np.ndarray, layout: Layout | None) -> list[Diagnosis]:
    """The ``kink`` warning for entries whose difference straddles a kink (none if no entries)."""
    if not kinks.size:
        return []
    return [
        Diagnosis(
            "kink",
            f"{entry_names(layout, kinks)}: the finite difference straddles a non-differentiable "
            "point (ReLU, abs, max) and your gradient lies between the one-sided derivatives, so "
            f"these {entries(kinks.size)} are not counted as wrong. Check at another point, or "
            "with a smaller step, to test them.",
            block=layout.block_of(kinks) if layout is not None else None,
            indices=kinks,
        )
    ]


def stair_warning(stairs: np.ndarray, layout: Layout | None) -> list[Diagnosis]:
    """The ``kink`` warning for entries along which f is a staircase (none if no entries)."""
    if not stairs.size:
        return []
    return [
        Diagnosis(
            "kink",
            f"f is piecewise constant along {entry_names(layout, stairs)} (a staircase, as from "
            "round(), floor(), a cast to a lower precision or a quantiser, or a flat piece): "
            "over a short step f did not change at all, where a slope as large as the one "
            "measured (or the one your gradient claims) would have moved it well above its "
            f"noise. Its derivative there is 0, and your gradient was compared with 0 on "
            f"{entries(stairs.size)}; a straight-through estimate is not a derivative and "
            "cannot be checked by differences.",
            block=layout.block_of(stairs) if layout is not None else None,
            indices=stairs,
            headline=f"f is piecewise constant along {entries(stairs.size)} (a staircase)",
        )
    ]


DEGENERATE_SCAN = 100_000  # blocks up to this size are scanned for symmetry and ties


def degenerate_warnings(x: np.ndarray, layout: Layout | None) -> list[Diagnosis]:
    """``degenerate`` warnings: where x itself hides bugs (MINPACK's CHKDER warns that no entry
    of x should be zero). A block all zero or constant makes its entries alike (a gradient that
    swaps or mixes them agrees); a square block that is symmetric makes a transposed gradient
    agree; many exact ties do the same for entries that share a value. Check at another point
    too (``points=3``)."""
    blocks = list(layout.unpack(x).items()) if layout is not None else [("x", x)]
    found = []
    for name, value in blocks:
        what = _degenerate(name, value) if value.size >= 2 else None
        if what is not None:
            found.append(
                Diagnosis(
                    "degenerate",
                    f"{what}. Check at another point too: points=3 adds two seeded perturbations "
                    "of x.",
                    block=name if layout is not None else None,
                    headline=f"x is degenerate in {name}",
                )
            )
    return found


def _degenerate(name: str, value: np.ndarray) -> str | None:
    """What in this block of x would hide a bug, or None."""
    flat = value.ravel()
    lo, hi = float(np.min(flat)), float(np.max(flat))  # two reading passes, no copy
    alike = "its entries are alike here, so a gradient that mixes them up (a swapped index, a "
    if lo == hi:
        state = "all zero" if lo == 0 else f"constant ({lo:g})"
        return f"{name} is {state}: {alike}wrong row) agrees"
    if flat.size > DEGENERATE_SCAN:  # the tests below copy: small blocks only
        return None
    if value.ndim == 2 and value.shape[0] == value.shape[1] and np.array_equal(value, value.T):
        return f"{name} is symmetric: a transposed gradient would agree here"
    _, counts = np.unique(flat, return_counts=True)
    tied = int(np.sum(counts[counts > 1]))
    if tied > flat.size // 2:
        return (
            f"{tied} of {flat.size} entries of {name} share their value with another: a "
            "gradient that swaps them agrees here"
        )
    return None


def noise_warnings(
    *,
    eps_f: float,
    detected: float | None,
    f0: float,
    low_precision: bool,
    stair: float | None = None,
) -> list[Diagnosis]:
    """The ``precision`` or ``noisy`` warning, when f computes in float32 or is noisy; the
    ``kink`` warning of a staircase (f piecewise constant at the scale of the noise probe)."""
    rel = eps_f / abs(f0) if f0 else eps_f
    stairs = []
    if stair is not None:
        stairs = [
            Diagnosis(
                "kink",
                f"f is piecewise constant near x (a staircase: equal values with jumps of about "
                f"{stair:.2g} between them, as from round(), floor() or a quantiser). Its "
                "derivative is 0 between the jumps and undefined at them; the jumps were not "
                "taken for noise, and the differences were taken between them.",
                factor=stair,
                headline="f is piecewise constant (a staircase)",
            )
        ]
    if low_precision:
        return [
            *stairs,
            Diagnosis(
                "precision",
                f"f seems to compute in low precision (float32 or less; relative noise "
                f"{rel:.2g}): steps and tolerances were widened to match, so only errors well "
                "above float32 round-off are reported. Check in float64 for a sharper verdict.",
                factor=eps_f,
            ),
        ]
    if detected is not None and rel > 1e3 * EPS:
        return [
            *stairs,
            Diagnosis(
                "noisy",
                f"f is noisy at the level ε_f ≈ {eps_f:.2g} (relative {rel:.2g}); the steps were "
                "enlarged to keep the noise from swamping the differences, and tolerances "
                "widened.",
                factor=eps_f,
            ),
        ]
    return stairs
