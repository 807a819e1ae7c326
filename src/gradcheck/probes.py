"""Before any difference is believed, and after: what the calls of f at x reveal.

- **At the start** f is called at x twice. Two calls that agree (the common case) cost nothing
  more. When they differ, f is called ``REPEATS`` more times at x: a cost or gradient that moves
  the same way with every call is ``stateful`` (a counter), a first call that differs from all
  the later ones is ``stateful`` too (a cache or a warm start that settles), and anything else is
  random spread — measured, so that it can join the noise of f in the error model.
- **After the perturbed evaluations** (the history probe) f is called at x once more: a cost or
  gradient that no longer equals the first call's, within the measured spread, depends on the
  calls before it — a stale gradient cache, a warm-started inner solver, a counter, a global.
- Non-finite costs and gradient entries are named; whether f modifies its argument is seen on
  every call (see :mod:`gradcheck.evaluate`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import NamedTuple

import numpy as np

from .compare import largest
from .diagnose import nonfinite_entries
from .evaluate import Evaluator, Seen, as_scalar, raised_in_user_code
from .layout import Layout, entry_name
from .precision import EPS, differs, eps_of
from .problem import Problem
from .report import Diagnosis

REPEATS = 6  # further calls at x when the first two disagree
GRADIENT_WOBBLE = 1e-10  # relative variation of the gradient between calls taken as round-off
CAUSES = (
    "a cache keyed on the wrong thing (a gradient kept from the previous point), a warm start "
    "from the previous call, a counter or a global variable"
)


@dataclass(frozen=True)
class Probes:
    """What the calls at x showed: f(x), the analytic gradient, and how repeatable they are."""

    cost: float
    analytic: np.ndarray
    eps: float  # unit round-off of what f and the gradient came in (float64's: EPS)
    spread: float  # standard deviation of the cost between calls at x (0: identical)
    wobble: float  # largest variation of a gradient entry between calls at x
    calls: int  # calls made at x
    diagnoses: tuple[Diagnosis, ...]
    notes: tuple[str, ...]
    seen: Seen

    @property
    def low_precision(self) -> bool:
        """Whether f, its gradient, x or the caller's ``precision=`` say less than float64."""
        return self.eps > EPS

    @property
    def usable(self) -> bool:
        """Whether anything can be checked: f(x) is finite."""
        return bool(np.isfinite(self.cost))

    @property
    def random(self) -> bool:
        """Whether the calls at x varied at random (then weighed by :func:`nondeterminism`)."""
        return self.spread > 0 or (
            self.wobble > 0 and self.wobble > GRADIENT_WOBBLE * largest(self.analytic)
        )


class AtX(NamedTuple):
    """One call at x, parsed: the real cost, the gradient as a float64 vector, the unit
    round-off of the precision they came in, and what the evaluator saw."""

    cost: float
    gradient: np.ndarray
    eps: float
    seen: Seen


def _call(ev: Evaluator, problem: Problem, where: str, grad_first: bool = False) -> AtX:
    """f at x, and the gradient (``grad=``'s, called first with ``grad_first``: a gradient
    that only follows f's last call, a cache, is then caught by the history probe)."""
    early = _gradient(problem, None, where) if grad_first and problem.grad is not None else None
    out = ev.at(problem.x, where)
    value = as_scalar(out.cost)
    if isinstance(value, complex):
        if value.imag != 0:
            raise TypeError(
                f"f returned a complex cost ({value:.6g}) at a real point {where}: the cost must "
                "be real. Return its real part if the imaginary part is round-off."
            )
        value = value.real
    raw, mutated = early if early is not None else _gradient(problem, out.grad, where)
    gradient = problem.validated(raw)
    eps = max(eps_of(np.asarray(out.cost).dtype), eps_of(np.asarray(raw).dtype))
    seen = out.seen | (Seen(grad_mutated_at=where) if mutated else Seen())
    return AtX(float(value), gradient, eps, seen)


def _gradient(problem: Problem, from_f: object, where: str) -> tuple[object, bool]:
    try:
        return problem.raw_gradient(from_f, problem.x)
    except Exception as exc:
        if problem.grad is not None:  # the user's grad raised: say where, as for f
            raised_in_user_code(exc, "grad", where)
        raise


def probe(ev: Evaluator, problem: Problem) -> Probes:
    """f and its gradient at x: one call (non-finite values named)."""
    first = _call(ev, problem, "at x")
    return Probes(
        cost=first.cost,
        analytic=first.gradient,
        eps=max(first.eps, problem.precision),
        spread=0.0,
        wobble=0.0,
        calls=1,
        diagnoses=tuple(_nonfinite_at_x(first, problem.layout)),
        notes=(),
        seen=first.seen,
    )


def determinism(ev: Evaluator, problem: Problem, probes: Probes) -> Probes:
    """A second call at x, right away (more if the two differ): how repeatable is f?"""
    second = _call(ev, problem, "at x (second call, determinism probe)")
    return _compared(ev, problem, probes, second, "determinism probe")


def revisit(ev: Evaluator, problem: Problem, probes: Probes, after: int) -> Probes:
    """The last call at x, after ``after`` others: the history probe and, for directional mode,
    the determinism probe in one. When it differs from the first call, more calls at x tell a
    state (it moves one way, or it settled) from random spread."""
    again = _call(ev, problem, f"at x again, after {after} other evaluations (history probe)")
    return _compared(ev, problem, probes, again, "history probe")


def _compared(ev: Evaluator, problem: Problem, probes: Probes, other: AtX, what: str) -> Probes:
    first = AtX(probes.cost, probes.analytic, probes.eps, Seen())
    seen = probes.seen | other.seen
    calls = [first, other]
    notes, found = list(probes.notes), list(probes.diagnoses)
    spread, wobble = probes.spread, probes.wobble
    cost_moved = _differs(first.cost, other.cost)
    grad_moved = _differs(first.gradient, other.gradient)
    if cost_moved or grad_moved:
        wobble = max(wobble, largest(first.gradient - other.gradient))
        if not cost_moved and wobble <= GRADIENT_WOBBLE * largest(first.gradient):
            # A cost that is exact and a gradient varying at round-off level: atomic adds on a
            # GPU, threaded reductions. It only widens the tolerance.
            notes.append(
                f"the gradient differs between two calls at x by up to {wobble:.2g} (the cost "
                "does not): round-off in a non-deterministic reduction, such as atomic adds on "
                "a GPU. The tolerances include it."
            )
        else:
            calls += [_call(ev, problem, f"at x (call {k + 3}, {what})") for k in range(REPEATS)]
            seen = reduce(operator.or_, (c.seen for c in calls[2:]), seen)
            spread, wobble, stateful = _repeatability(calls, problem.layout)
            found = stateful + found
    return Probes(
        cost=probes.cost,
        analytic=probes.analytic,
        eps=probes.eps,
        spread=spread,
        wobble=wobble,
        calls=probes.calls + len(calls) - 1,
        diagnoses=tuple(found),
        notes=tuple(notes),
        seen=seen,
    )


def _repeatability(calls: list[AtX], layout: Layout | None) -> tuple[float, float, list[Diagnosis]]:
    """Spread of the cost, largest gradient variation, and a ``stateful`` diagnosis when the
    calls at x follow the call count (they only ever move one way) instead of varying at random."""
    costs = np.array([c.cost for c in calls])
    # The gradients, seen along one fixed direction and by their largest deviation from the first.
    w = np.random.default_rng(0).standard_normal(calls[0].gradient.size)
    along = np.array([c.gradient @ w for c in calls])
    wobble = max(largest(c.gradient - calls[0].gradient) for c in calls[1:])
    bands = (
        8 * EPS * float(np.max(np.abs(costs))),
        GRADIENT_WOBBLE * largest(calls[0].gradient) * float(np.abs(w).sum()),
    )
    for what, values, band in zip(("cost", "gradient"), (costs, along), bands, strict=True):
        steps = np.diff(values)
        if not np.any(np.abs(steps) > band):
            continue  # below round-off, a one-way sequence is chance (few distinct values)
        if np.all(steps >= 0) or np.all(steps <= 0):
            if np.count_nonzero(np.abs(steps) > band) == 1 and abs(steps[0]) > band:
                # Only the first call differs: a cache filled, a warm start settled.
                return 0.0, 0.0, [_stateful_first(what, values[0], values[1], values[-1])]
            return 0.0, 0.0, [_stateful_trend(what, values)]
        for period in (2, 3):  # a buffer reused by turns, a toggle: deterministic, not noise
            if np.all(np.abs(values[period:] - values[:-period]) <= band):
                return 0.0, 0.0, [_stateful_cycle(what, values, period)]
        repeats = values[2:]
        if np.all(np.abs(repeats - repeats[0]) <= band):
            # Back-to-back calls agree: the differences came from the calls between.
            return 0.0, 0.0, [_stateful_first(what, values[0], values[1], repeats[0])]
    return float(np.std(costs, ddof=1)), wobble, []


def history(
    ev: Evaluator, problem: Problem, probes: Probes, after: int, far: np.ndarray | None = None
) -> tuple[list[Diagnosis], Seen]:
    """Call f at x again after ``after`` other evaluations — first at the point ``far`` from x,
    when given, so that a warm start comes from far away: does f still give its first answer?"""
    seen = Seen()
    if far is not None:
        seen = ev.at(far, "at a point away from x (history probe)").seen
        after += 1
    again = _call(
        ev,
        problem,
        f"at x again, after {after} other evaluations (history probe)",
        grad_first=True,  # grad= at x before f at x: a gradient cached by f's last call shows
    )
    seen = seen | again.seen
    cost_change = abs(again.cost - probes.cost)
    with np.errstate(invalid="ignore"):
        grad_change = np.abs(again.gradient - probes.analytic)
    worst = int(np.nanargmax(grad_change)) if np.any(np.isfinite(grad_change)) else 0
    cost_moved = bool(differs(again.cost, probes.cost, probes.spread))
    grad_moved = bool(
        grad_change[worst] > 10 * probes.wobble + GRADIENT_WOBBLE * largest(probes.analytic)
    )
    if not (cost_moved or grad_moved) or not np.isfinite(again.cost):
        return [], seen
    parts = []
    if cost_moved:
        rel = cost_change / abs(probes.cost) if probes.cost else cost_change
        parts.append(f"a cost that differs by {cost_change:.3g} (relative {rel:.2g})")
    if grad_moved:
        parts.append(
            f"a gradient that differs by up to {grad_change[worst]:.3g} (at "
            f"{entry_name(problem.layout, worst)}: {probes.analytic[worst]:.6g} then "
            f"{again.gradient[worst]:.6g})"
        )
    what = (
        "cost and gradient" if cost_moved and grad_moved else "cost" if cost_moved else "gradient"
    )
    moved = f"the {what} at x changed by {cost_change if cost_moved else grad_change[worst]:.2g}"
    return [
        Diagnosis(
            "stateful",
            f"f is stateful: called at x again after {after} other evaluations, it returned "
            f"{' and '.join(parts)} compared with its first call at x. Its result depends on the "
            f"calls before it: look for {CAUSES}. Make f (and its gradient) a function of x "
            "alone; until then no finite-difference check can be trusted.",
            headline=f"f is stateful ({moved} after other calls)",
        )
    ], seen


def nondeterminism(probes: Probes, noise_part: float, nondet_tol: float | None) -> Diagnosis:
    """The ``nondeterministic`` diagnosis for random spread between calls at x.

    A warning while the check stays decisive: the spread joined the noise of f, and the part of
    the tolerance it causes (``noise_part``, the same units as the gradient) stays below a tenth
    of the gradient's typical entry — or, with ``nondet_tol``, while the spread is within it
    (relative to |f(x)| for the cost and to the largest gradient entry for the gradient).
    Otherwise a failure: the check is inconclusive.
    """
    rel_cost = probes.spread / abs(probes.cost) if probes.cost else probes.spread
    scale = largest(probes.analytic)
    rel_grad = probes.wobble / scale if scale else probes.wobble
    typical = float(np.sqrt(np.mean(probes.analytic**2)))
    if nondet_tol is not None:
        decisive = rel_cost <= nondet_tol and rel_grad <= nondet_tol
        why = f"more than nondet_tol = {nondet_tol:g}"
    else:
        decisive = noise_part <= 0.1 * typical
        why = (
            f"so much that the tolerances it implies ({noise_part:.2g}) exceed a tenth of the "
            f"gradient's typical entry ({typical:.2g})"
        )
    spread = (
        f"f is not deterministic: calls at the same x vary by {probes.spread:.2g} in the cost "
        f"(relative {rel_cost:.2g}) and by up to {probes.wobble:.2g} in a gradient entry "
        f"(relative {rel_grad:.2g})"
    )
    if decisive:
        return Diagnosis(
            "nondeterministic",
            f"{spread}. The spread was measured over {probes.calls} calls and treated as noise: "
            "steps and tolerances were widened for it, and the verdict stands within them.",
            factor=probes.spread,
            severity="warning",
        )
    return Diagnosis(
        "nondeterministic",
        f"{spread}, {why}: the check is inconclusive, since no step can tell a wrong gradient "
        "from this noise. Fix the random seed, put the model in evaluation mode (dropout and "
        "batch-norm updates off), or remove caching and global state from f.",
        factor=probes.spread,
        headline=f"f is not deterministic (relative spread {max(rel_cost, rel_grad):.2g}); "
        "the check is inconclusive",
    )


def mutates_input(where: str, name: str = "f") -> Diagnosis:
    """``f`` (or ``grad``) modified the array it was given, noticed ``where``."""
    return Diagnosis(
        "mutates_input",
        f"{name} modified the array it was given (noticed {where}). gradcheck passes copies, so "
        "the check itself is safe, but code that reuses x after calling it (an optimiser) is "
        f"not: copy x inside {name} or avoid in-place operations such as x -= ... on it.",
        headline=f"{name} modifies its input",
    )


def _nonfinite_at_x(call: AtX, layout: Layout | None) -> list[Diagnosis]:
    if not np.isfinite(call.cost):
        return [
            Diagnosis(
                "nonfinite",
                f"f(x) is {call.cost} at the point given, so nothing can be checked there. Look "
                "for log(0), a division by zero or an overflow (a sigmoid of a large argument, "
                "say).",
                headline=f"f(x) is {call.cost}, so nothing could be checked",
            )
        ]
    if np.isfinite(np.sum(call.gradient)):  # one reading pass in the usual case
        return []
    bad = np.flatnonzero(~np.isfinite(call.gradient))
    return [nonfinite_entries(bad, layout, "your gradient is not finite")] if bad.size else []


def _stateful_trend(what: str, values: np.ndarray) -> Diagnosis:
    change = float(values[-1] - values[0])
    return Diagnosis(
        "stateful",
        f"f is stateful: its {what} at x only ever moves one way from call to call ({values.size} "
        f"calls at the same x, {values[0]:.10g} to {values[-1]:.10g}): it counts its calls, or "
        f"keeps improving an answer it started from before. Look for {CAUSES}.",
        headline=f"f is stateful (the {what} at x changed by {abs(change):.2g} over "
        f"{values.size} calls)",
    )


def _stateful_cycle(what: str, values: np.ndarray, period: int) -> Diagnosis:
    shown = ", ".join(f"{v:.10g}" for v in values[: period + 1])
    return Diagnosis(
        "stateful",
        f"f is stateful: at the same x its {what} repeats a cycle of {period} values from call "
        f"to call ({shown}, …). Something alternates between calls: a buffer reused by turns "
        f"(returning the same array that the next call overwrites), a toggle. Look for {CAUSES}; "
        "return a new array from every call.",
        headline=f"f is stateful (the {what} at x cycles through {period} values)",
    )


def _stateful_first(what: str, first: float, second: float, settled: float) -> Diagnosis:
    return Diagnosis(
        "stateful",
        f"f is stateful: at the same x its {what} was {first:.10g}, then {second:.10g}, then "
        f"{settled:.10g} on every call made back to back. The result depends on what ran "
        f"before: look for {CAUSES}.",
        headline=f"f is stateful (the {what} at x changed by "
        f"{max(abs(second - first), abs(settled - first)):.2g} between calls)",
    )


def _differs(a: object, b: object) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.array_equal(a, b):  # the common case, in one pass
        return False
    return bool(np.any(differs(a, b)))  # precision.differs: 4 ulps, the one rule
