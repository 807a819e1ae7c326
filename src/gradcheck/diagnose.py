"""Naming the bug behind a mismatch: pure functions from a comparison to ``Diagnosis`` objects.

Each kind is a hypothesis "analytic = T(numeric)" for a simple T: negate; zero on a set; scale
by c; reorder a block the other way (C↔F, which is also a transpose); add κ·x on a set. Hypotheses are tried
simplest first, globally and then block by block, and one is accepted only when it explains every
mismatched entry within the error model (and, for the block-wide ones, agrees with every checked
entry of its scope). What no hypothesis explains is reported as ``localized``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layout import Layout, Order, entry_name
from .noise import EPS
from .report import Diagnosis

# A hypothesis may miss by up to this multiple of the entry's tolerance: the tolerance is about
# the numeric estimate, and a hypothesis also carries the fitted factor's error.
SLACK = 2.0
SHOWN = 4


@dataclass(frozen=True)
class Comparison:
    """Analytic and numeric values with tolerances, and where the mismatches are."""

    analytic: np.ndarray
    numeric: np.ndarray
    tolerance: np.ndarray
    checked: np.ndarray
    mismatched: np.ndarray
    layout: Layout | None
    x: np.ndarray
    rtol: float

    def name(self, i: int) -> str:
        return entry_name(self.layout, i)

    def fits(
        self,
        idx: np.ndarray,
        predicted: np.ndarray,
        scale: float = 1.0,
        analytic: np.ndarray | None = None,
    ) -> bool:
        """Whether ``analytic[idx] ≈ predicted`` within the error model."""
        a = (self.analytic if analytic is None else analytic)[idx]
        slack = SLACK * (self.tolerance[idx] * max(1.0, abs(scale)) + self.rtol * np.abs(predicted))
        return bool(np.all(np.abs(a - predicted) <= slack))


# ----- probe diagnoses ---------------------------------------------------------------------------


def mutates_input(where: str) -> Diagnosis:
    return Diagnosis(
        "mutates_input",
        f"f modified the array it was given (noticed {where}). gradcheck passes copies, so the "
        "check itself is safe, but code that reuses x after calling f (an optimiser) is not: "
        "copy x inside f or avoid in-place operations such as x -= ... on it.",
    )


def nondeterministic(f0: float, f1: float, a0: np.ndarray, a1: np.ndarray) -> Diagnosis:
    with np.errstate(invalid="ignore"):
        worst = float(np.nanmax(np.abs(a0 - a1), initial=0.0))
    return Diagnosis(
        "nondeterministic",
        f"f is not deterministic: two calls at the same x gave costs {f0!r} and {f1!r} "
        f"(gradients differ by up to {worst:.3g}). No finite-difference check can be trusted "
        "until f is: fix the random seed, or remove global state or caching from f.",
    )


def nonfinite_cost(f0: float) -> Diagnosis:
    return Diagnosis(
        "nonfinite",
        f"f(x) is {f0} at the point given, so nothing can be checked there. Look for log(0), "
        "a division by zero or an overflow (a sigmoid of a large argument, say).",
    )


def nonfinite_entries(idx: np.ndarray, layout: Layout | None, what: str) -> Diagnosis:
    names = _names(idx, layout)
    return Diagnosis(
        "nonfinite",
        f"{what} at {idx.size} entr{'y' if idx.size == 1 else 'ies'} ({names}); these entries "
        "were not compared. Look for log(0), a division by zero or an overflow near x.",
        block=layout.block_of(idx) if layout is not None else None,
        indices=idx,
    )


def kink_warning(kinks: np.ndarray, layout: Layout | None) -> list[Diagnosis]:
    """The ``kink`` warning for entries whose difference straddles a kink (none if no entries)."""
    if not kinks.size:
        return []
    return [
        Diagnosis(
            "kink",
            f"{_names(kinks, layout)}: the finite difference straddles a non-differentiable point "
            "(ReLU, abs, max) and your gradient lies between the one-sided derivatives, so these "
            f"{kinks.size} entr{'y is' if kinks.size == 1 else 'ies are'} not counted as wrong. "
            "Check at another point, or with a smaller step, to test them.",
            block=layout.block_of(kinks) if layout is not None else None,
            indices=kinks,
        )
    ]


def noise_warnings(
    *, eps_f: float, detected: float | None, f0: float, low_precision: bool
) -> list[Diagnosis]:
    """The ``precision`` or ``noisy`` warning, when f computes in float32 or is noisy."""
    out = []
    rel = eps_f / abs(f0) if f0 else eps_f
    if low_precision:
        out.append(
            Diagnosis(
                "precision",
                f"f seems to compute in low precision (float32 or less; relative noise {rel:.2g}): "
                "steps and tolerances were widened to match, so only errors well above float32 "
                "round-off are reported. Check in float64 for a sharper verdict.",
                factor=eps_f,
            )
        )
    elif detected is not None and rel > 1e3 * EPS:
        out.append(
            Diagnosis(
                "noisy",
                f"f is noisy at the level ε_f ≈ {eps_f:.2g} (relative {rel:.2g}); the steps were "
                "enlarged to keep the noise from swamping the differences, and tolerances widened.",
                factor=eps_f,
            )
        )
    return out


# ----- the bug patterns --------------------------------------------------------------------------


def explain(
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
    """Diagnoses that explain the mismatched entries, most likely first."""
    c = Comparison(analytic, numeric, tolerance, checked, mismatched, layout, x, rtol)
    for test in (_sign, _zero, _scale, _layout):
        found = test(c, checked, None)
        if found is not None:
            return [found]
    per_block = _per_block(c)
    if per_block is not None:
        return per_block
    found = _regularization(c)
    if found is not None:
        return [found]
    return _localized(c)


def _per_block(c: Comparison) -> list[Diagnosis] | None:
    if c.layout is None or len(c.layout.names) < 2:
        return None
    out = []
    for name in c.layout.names:
        s = c.layout.slice(name)
        if not np.any((c.mismatched >= s.start) & (c.mismatched < s.stop)):
            continue
        scope = c.checked[(c.checked >= s.start) & (c.checked < s.stop)]
        for test in (_sign, _zero, _scale, _layout):
            found = test(c, scope, name)
            if found is not None:
                out.append(found)
                break
        else:
            return None
    return out


def _in_scope(c: Comparison, scope: np.ndarray) -> np.ndarray:
    return c.mismatched[np.isin(c.mismatched, scope)]


def _sign(c: Comparison, scope: np.ndarray, block: str | None) -> Diagnosis | None:
    mism = _in_scope(c, scope)
    if mism.size < 1 or (mism.size != c.mismatched.size and block is None):
        return None
    if not c.fits(scope, -c.numeric[scope]):
        return None
    return Diagnosis(
        "sign", _sign_message(_scope_name(c, block)), block=block, indices=mism, factor=-1.0
    )


def _sign_message(scope: str) -> str:
    return (
        f"{scope}: your gradient has the opposite sign of the numerical one (analytic ≈ "
        "−numeric). Look for a flipped sign: h − y written as y − h, a gradient of −J, or a "
        "subtraction the wrong way round."
    )


def _zero(c: Comparison, scope: np.ndarray, block: str | None) -> Diagnosis | None:
    mism = _in_scope(c, scope)
    if mism.size < 1 or (mism.size != c.mismatched.size and block is None):
        return None
    if not c.fits(mism, np.zeros(mism.size)):
        return None
    return Diagnosis(
        "zero",
        f"{_set_name(c, mism)}: your gradient is 0 where the numerical gradient is not "
        f"({mism.size} entr{'y' if mism.size == 1 else 'ies'}). This part of the gradient is never "
        "written: an accumulator left at zeros, or a loop that skips it.",
        block=c.layout.block_of(mism) if c.layout is not None else None,
        indices=mism,
    )


def _scale(c: Comparison, scope: np.ndarray, block: str | None) -> Diagnosis | None:
    mism = _in_scope(c, scope)
    if mism.size < 2 or (mism.size != c.mismatched.size and block is None):
        return None
    n = c.numeric[scope]
    factor = _scale_factor(c.analytic[scope], n)
    if factor is None or not c.fits(scope, factor * n, scale=factor):
        return None
    return Diagnosis(
        "scale",
        _scale_message(_scope_name(c, block), factor),
        block=block,
        indices=mism,
        factor=factor,
    )


def _scale_factor(a: np.ndarray, n: np.ndarray) -> float | None:
    """Least-squares c in a ≈ c·n, or None when c is 0, ±1 or undefined (other hypotheses)."""
    nn = float(n @ n)
    if nn == 0:
        return None
    factor = float(a @ n) / nn
    if abs(factor) < 1e-3 or abs(abs(factor) - 1) < 1e-3 or (factor < 0 and abs(factor + 1) < 0.05):
        return None
    return factor


def _scale_message(scope: str, factor: float) -> str:
    mag = abs(factor)
    intro = f"{scope}: your gradient is {factor:.6g} × the numerical one. "
    if mag > 1 and abs(mag - round(mag)) < 1e-3 * mag:
        return intro + (
            f"A whole factor of {round(mag)} usually is a missing division: by m, the number "
            "of examples (1/m), or by a batch size."
        )
    if mag < 1 and abs(1 / mag - round(1 / mag)) < 1e-3 / mag:
        return intro + (
            f"It is {round(1 / mag)} times too small: a division applied twice (1/m in both the "
            "delta and the sum?) or a stray factor 1/2."
        )
    return (
        intro
        + "A constant factor: look for a missing or extra multiplier (a learning rate, λ, 1/m)."
    )


def _layout(c: Comparison, scope: np.ndarray, block: str | None) -> Diagnosis | None:
    if c.layout is None:
        return None
    mism = _in_scope(c, scope)
    if mism.size < 2 or (mism.size != c.mismatched.size and block is None):
        return None
    names = (
        [block]
        if block is not None
        else [b for b in c.layout.names if len(c.layout.blocks[b]) == 2]
    )
    fixed, touched = _reordered(c.analytic, c.layout, names)
    if not touched:
        return None
    inside = np.isin(mism, np.concatenate([c.layout.indices(b) for b in touched]))
    if not np.all(inside) or not c.fits(scope, c.numeric[scope], analytic=fixed):
        return None
    return Diagnosis(
        "layout",
        _layout_message(touched, c.layout.order),
        block=block if block is not None else (touched[0] if len(touched) == 1 else None),
        indices=mism,
    )


def _reordered(
    analytic: np.ndarray, layout: Layout, names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """The gradient with each named 2-D block read back in the other order.

    Unrolling a matrix in the other order is the same as unrolling its transpose in this one,
    so one test covers both mistakes.
    """
    other: Order = "F" if layout.order == "C" else "C"
    fixed = analytic.copy()
    touched = []
    for name in names:
        shape = layout.blocks[name]
        if len(shape) != 2 or min(shape) < 2:
            continue
        s = layout.slice(name)
        fixed[s] = analytic[s].reshape(shape, order=other).ravel(order=layout.order)
        touched.append(name)
    return fixed, touched


def _layout_message(touched: list[str], order: str) -> str:
    other = "F" if order == "C" else "C"
    major = "column" if other == "F" else "row"
    return (
        f"{', '.join(touched)}: your gradient matches the numerical one once reordered — it is "
        f"unrolled in {other} order ({major}-major) while the parameters are in {order} order (or, "
        f"the same thing, it is the transpose of the right matrix). Unroll the gradient like the "
        f"parameters (ravel(order='{order}'), or transpose it first), or, if your parameters "
        f"really are {other}-ordered, check with order='{other}'."
    )


def explain_directions(
    numeric: np.ndarray,
    analytic_d: np.ndarray,
    tolerance: np.ndarray,
    directions: list[tuple[np.ndarray, np.ndarray]],
    analytic: np.ndarray,
    layout: Layout | None,
    x: np.ndarray,
    block: str | None = None,
) -> Diagnosis | None:
    """Sign, scale or layout errors of the whole gradient (or of one block), from directions.

    ``directions`` are (indices, values) pairs, ``numeric[k] ≈ ∇f·v_k`` and
    ``analytic_d[k] = analytic·v_k``. Each hypothesis predicts the analytic side from the
    numeric one and must hold for every direction.
    """
    slack = SLACK * tolerance
    if block is not None and layout is not None:
        scope, entries = _scope_name_of(layout, block), layout.indices(block)
    else:
        scope = "every block" if layout is not None and len(layout.names) > 1 else "all entries"
        entries = np.arange(analytic.size)
    nonzero = entries[analytic[entries] != 0]
    if np.all(np.abs(analytic_d + numeric) <= slack):
        return Diagnosis("sign", _sign_message(scope), block=block, indices=nonzero, factor=-1.0)
    factor = _scale_factor(analytic_d, numeric)
    if factor is not None and np.all(
        np.abs(analytic_d - factor * numeric) <= slack * max(1.0, abs(factor))
    ):
        return Diagnosis(
            "scale", _scale_message(scope, factor), block=block, indices=nonzero, factor=factor
        )
    if np.all(analytic[entries] == 0):
        return Diagnosis(
            "zero",
            f"{scope}: your gradient is 0 on the whole of it where the numerical gradient is not. "
            "This part of the gradient is never written: an accumulator left at zeros, or a loop "
            "that skips it.",
            block=block,
            indices=entries,
        )

    def x_values(idx: np.ndarray, v: np.ndarray, subset: np.ndarray) -> float:
        inside = np.isin(idx, subset)
        return float(x[idx[inside]] @ v[inside])

    for subset in _regularization_sets(layout, block, entries):
        # numeric − analytic = κ·x on the subset, seen along each direction: κ·(x_S·v_S).
        xv = np.array([x_values(idx, v, subset) for idx, v in directions])
        if not np.any(xv):
            continue
        kappa = float(xv @ (numeric - analytic_d)) / float(xv @ xv)
        if kappa != 0 and np.all(np.abs(analytic_d - (numeric - kappa * xv)) <= slack):
            return _regularization_diagnosis(layout, subset, kappa, block)
    if layout is not None:
        names = [block] if block is not None else list(layout.names)
        fixed, touched = _reordered(
            analytic, layout, [b for b in names if len(layout.blocks[b]) == 2]
        )
        predicted = np.array([fixed[idx] @ v for idx, v in directions])
        if touched and np.all(np.abs(predicted - numeric) <= slack):
            return Diagnosis(
                "layout",
                _layout_message(touched, layout.order),
                block=touched[0] if len(touched) == 1 else None,
                indices=np.flatnonzero(fixed != analytic),
            )
    return None


def _regularization_sets(
    layout: Layout | None, block: str | None, entries: np.ndarray
) -> list[np.ndarray]:
    """Where an L2 term typically goes missing: a whole block, its bias column, the rest."""
    sets = [entries]
    shape = layout.blocks[block] if layout is not None and block is not None else ()
    if layout is not None and block is not None and len(shape) == 2 and shape[1] > 1:
        bias = np.sort(layout.column(block, 0))
        sets += [bias, np.setdiff1d(entries, bias)]
    return sets


def _scope_name_of(layout: Layout, block: str) -> str:
    return f"{block} ({'×'.join(map(str, layout.blocks[block]))})"


def _regularization(c: Comparison) -> Diagnosis | None:
    mism = c.mismatched
    if mism.size < 2:
        return None
    xm = c.x[mism]
    diff = c.numeric[mism] - c.analytic[mism]
    xx = float(xm @ xm)
    if xx == 0:
        return None
    kappa = float(xm @ diff) / xx
    if kappa == 0 or not c.fits(mism, c.numeric[mism] - kappa * xm):
        return None
    block = c.layout.block_of(mism) if c.layout is not None else None
    return _regularization_diagnosis(c.layout, mism, kappa, block)


def _regularization_diagnosis(
    layout: Layout | None, idx: np.ndarray, kappa: float, block: str | None
) -> Diagnosis:
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
        f"{_set_name_in(layout, idx)}: numeric − analytic = {kappa:.6g} × {block or 'x'} — cost and "
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
        mine = layout.indices(name)
        inside = idx[np.isin(idx, mine)]
        if not inside.size:
            continue
        if len(shape) == 2 and _is_column(layout, name, inside, 0):
            count += 1
        else:
            return 0
    return count


def _localized(c: Comparison) -> list[Diagnosis]:
    out = []
    groups: list[tuple[str | None, np.ndarray]]
    if c.layout is None:
        groups = [(None, c.mismatched)]
    else:
        groups = []
        for name in c.layout.names:
            mine = c.mismatched[np.isin(c.mismatched, c.layout.indices(name))]
            if mine.size:
                groups.append((name, mine))
    for block, idx in groups:
        worst = idx[np.argmax(np.abs(c.analytic[idx] - c.numeric[idx]))]
        out.append(
            Diagnosis(
                "localized",
                f"{_set_name(c, idx)}: {idx.size} entr{'y' if idx.size == 1 else 'ies'} wrong with no "
                f"simpler pattern (not a sign, scale, layout or regularisation error); worst "
                f"{c.name(worst)}: analytic {c.analytic[worst]:.6g}, numeric {c.numeric[worst]:.6g}. "
                "Re-derive the gradient of this part (in backprop, the derivative of the activation "
                "that feeds it).",
                block=block,
                indices=idx,
            )
        )
    return out


# ----- naming sets of entries --------------------------------------------------------------------


def _names(idx: np.ndarray, layout: Layout | None) -> str:
    shown = ", ".join(entry_name(layout, i) for i in idx[:SHOWN])
    return shown + (f" and {idx.size - SHOWN} more" if idx.size > SHOWN else "")


def _scope_name(c: Comparison, block: str | None) -> str:
    if block is None or c.layout is None:
        return "every block" if c.layout is not None and len(c.layout.names) > 1 else "all entries"
    return _scope_name_of(c.layout, block)


def _is_column(layout: Layout, name: str, idx: np.ndarray, col: int) -> bool:
    return bool(np.array_equal(np.sort(idx), np.sort(layout.column(name, col))))


def _set_name(c: Comparison, idx: np.ndarray) -> str:
    return _set_name_in(c.layout, idx)


def _set_name_in(layout: Layout | None, idx: np.ndarray) -> str:
    """``Theta2[:, 0] (bias column, 3 entries)``, ``Theta1[2, :]``, ``all of W1`` or a list."""
    if layout is None:
        return _names(idx, None)
    parts = []
    for name, shape in layout.blocks.items():
        mine = np.sort(idx[np.isin(idx, layout.indices(name))])
        if mine.size:
            parts.append(_block_set_name(layout, name, shape, mine))
    return "; ".join(parts)


def _block_set_name(layout: Layout, name: str, shape: tuple[int, ...], idx: np.ndarray) -> str:
    size = int(np.prod(shape))
    count = f"{idx.size} entr{'y' if idx.size == 1 else 'ies'}"
    if idx.size == size and size > 1:
        return f"all of {name} ({count})"
    if len(shape) == 2:
        rows = np.array([layout.locate(i)[1][0] for i in idx])
        cols = np.array([layout.locate(i)[1][1] for i in idx])
        if np.unique(cols).size == 1 and idx.size == shape[0] and shape[0] > 1:
            j = int(cols[0])
            return f"{name}[:, {j}] ({'bias column, ' if j == 0 else 'column, '}{count})"
        if np.unique(rows).size == 1 and idx.size == shape[1] and shape[1] > 1:
            return f"{name}[{int(rows[0])}, :] (row, {count})"
        if np.all(cols > 0) and idx.size == shape[0] * (shape[1] - 1) and shape[1] > 1:
            return f"{name}[:, 1:] (all but the bias column, {count})"
    return _names(idx, layout)
