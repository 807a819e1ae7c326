"""Two paths, one function: a cost-only function beside the cost+gradient one.

Code often computes the cost twice: ``fun`` for an optimiser's line search and ``fun_and_grad``
(or a cost with ``compute_grad=True``) for the gradient, and the two drift apart — a
regularisation term added to one, a ``mean`` changed to a ``sum`` in the other. Each path is
then consistent with itself, and a gradient check of ``fun_and_grad`` passes, while the optimiser
sees two different functions (Ceres Solver checks that residuals computed with and without
Jacobians agree, for this reason).

``check(fg, x, cost=f)`` evaluates both at x and at ``PATH_POINTS − 1`` seeded points near it
(moved by about 1 % of max(1, |x_i|), as ``points=`` moves them), and names any point where the
costs differ by more than round-off (:func:`gradcheck.precision.differs`, the same-value rule of
the probes and the checkpoint): kind ``inconsistent``. The gradient is checked against ``fg``'s
own cost, as without ``cost=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .evaluate import Evaluator, as_scalar
from .precision import differs
from .report import Diagnosis

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import Findings

PATH_POINTS = 3  # x and two seeded points near it
NEAR = 1e-2  # how far the points move, relative to max(1, |x_i|)


def validated(cost: Any) -> Callable[..., Any] | None:
    """``cost=`` as given: None, or a callable (else a TypeError naming the argument)."""
    if cost is not None and not callable(cost):
        raise TypeError(
            "cost must be a function returning the cost alone (the one an optimiser's line "
            f"search calls), got {type(cost).__name__}."
        )
    return cost


def compare_paths(cost: Callable[..., Any], seed: int, found: Findings) -> tuple[list, list]:
    """Both paths at x and at points near it (their calls counted in the check's ledger):
    an ``inconsistent`` diagnosis where they differ, else a note saying where they agreed."""
    problem = found.problem
    ledger = found.evaluator.ledger
    both = found.evaluator  # f as the check called it (one point of a vectorized f included)
    alone = Evaluator(cost, problem.args, problem.kwargs, ledger=ledger)
    rng = np.random.default_rng([seed, 17])
    scale = NEAR * np.maximum(1.0, np.abs(problem.x))
    points = [problem.x] + [
        problem.x + scale * rng.uniform(-1, 1, problem.n) for _ in range(PATH_POINTS - 1)
    ]
    rows = []
    for k, p in enumerate(points):
        where = "at x" if k == 0 else f"at a point near x ({k} of {PATH_POINTS - 1})"
        with_grad = as_scalar(both.at(p, where).cost)  # ``at`` splits (cost, gradient)
        cost_only = as_scalar(alone.at(p, where).cost)
        rows.append((where, with_grad, cost_only, float(p @ p)))
    apart = [r for r in rows if differs(r[1], r[2])]
    if not apart:
        agreed = (
            f"cost= agreed with f's cost at x and at {PATH_POINTS - 1} points near it "
            f"({2 * PATH_POINTS} evaluations)."
        )
        return [], [agreed]
    return [_inconsistent(apart, rows)], []


FIT = 1e-6  # a difference explained by a shape when it fits every point this closely


def _shape(rows: list[tuple[str, Any, Any, float]]) -> str:
    """What the difference (cost= minus f) looks like over the points: a constant, or an L2
    term κ/2·‖x‖² (the usual drift: a regularisation in one path only); else nothing."""
    gap = np.array([float(np.real(r[2] - r[1])) for r in rows])
    sq = np.array([r[3] for r in rows])
    size = float(np.max(np.abs(gap)))
    if np.ptp(gap) <= FIT * size:
        return f" The difference is the same constant at every point ({gap[0]:.6g})."
    if np.all(sq > 0):
        c = gap / sq
        if np.ptp(c) <= FIT * float(np.max(np.abs(c))):
            side = "cost=" if c[0] > 0 else "f"
            return (
                f" The difference is κ/2·‖x‖² with κ = {2 * c[0]:.6g} at every point: an L2 "
                f"term that {side} has and the other lacks."
            )
    return ""


def _inconsistent(apart: list[tuple[str, Any, Any, float]], rows: list) -> Diagnosis:
    total = len(rows)
    where, with_grad, cost_only, _ = apart[0]
    gap = abs(with_grad - cost_only)
    relative = gap / max(abs(with_grad), abs(cost_only)) if gap else 0.0
    also = f"; they differ at {len(apart)} of the {total} points compared" if len(apart) > 1 else ""
    return Diagnosis(
        "inconsistent",
        f"your cost-only function and your cost-and-gradient function disagree {where}: "
        f"cost= gives {cost_only:.10g}, f gives {with_grad:.10g} (a difference of {gap:.3g}, "
        f"{relative:.2%}){also}.{_shape(rows)} The gradient was checked against f's own cost; "
        "an optimiser "
        "that calls both (SciPy's minimize with fun= and jac=, a line search) sees two "
        "different functions. Look for a term in one and not the other (the regularisation, "
        "a 1/m).",
        factor=float(cost_only - with_grad),
        headline=f"cost= and f's cost differ by {gap:.3g} {where}",
    )
