"""Vector-valued functions: Jacobians (``jac``, ``vjp`` or ``jvp``) and Hessian-vector products.

The verdict reduces to the scalar check: for a random output weighting ``w`` the scalar
``w·f(x)`` has gradient ``Jᵀw``, which :func:`gradcheck.check` tests entry by entry. A random
Gaussian ``w`` hides a wrong Jacobian entry only with probability zero. When inputs are found
wrong, the numerical columns ``∂f/∂x_i`` of those inputs (two evaluations each) are compared with
the analytic ones to say which outputs are wrong too: ``J[k, i]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from .check import check
from .differences import EPS, choose_steps
from .report import Diagnosis, Report


def _vector(out: Any, name: str) -> np.ndarray:
    arr = np.asarray(out, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must return a 1-D array, got shape {arr.shape}.")
    return arr


def check_jacobian(
    f: Callable[[np.ndarray], Any],
    x: Any,
    *,
    jac: Callable[[np.ndarray], Any] | None = None,
    vjp: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    jvp: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    seed: int = 0,
    **check_kwargs: Any,
) -> Report:
    """Check the Jacobian of a vector-valued ``f`` given as ``jac``, ``vjp`` or ``jvp``.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a 1-D array of m outputs.
    x : array_like of shape (n,)
    jac : callable, optional
        ``jac(x)`` returns the m × n Jacobian.
    vjp : callable, optional
        ``vjp(x, w)`` returns ``Jᵀw`` (shape (n,)), reverse mode.
    jvp : callable, optional
        ``jvp(x, v)`` returns ``J v`` (shape (m,)), forward mode.
    seed : int
        Seeds the output weighting.
    **check_kwargs
        Passed to :func:`gradcheck.check` (``blocks``, ``method``, ``step``, …).

    Returns
    -------
    Report
        Of the scalar ``w·f(x)``; when inputs are wrong, a ``localized`` diagnosis names the
        wrong Jacobian entries ``J[k, i]`` (output k, input i).

    Examples
    --------
    >>> f = lambda x: np.array([x[0] * x[1], np.sin(x[0])])
    >>> jac = lambda x: np.array([[x[1], x[0]], [np.cos(x[0]), 0.0]])
    >>> check_jacobian(f, np.array([0.5, 2.0]), jac=jac).ok
    True
    >>> bad = lambda x: np.array([[x[1], x[0]], [-np.cos(x[0]), 0.0]])
    >>> check_jacobian(f, np.array([0.5, 2.0]), jac=bad).diagnoses[-1].message.startswith("wrong Jacobian entries: J[1, 0]")
    True
    """
    given = [name for name, v in (("jac", jac), ("vjp", vjp), ("jvp", jvp)) if v is not None]
    if len(given) != 1:
        raise TypeError(
            f"check_jacobian needs exactly one of jac=, vjp=, jvp=; got {given or 'none'}."
        )
    x = np.asarray(x, dtype=float)
    m = _vector(f(x.copy()), "f").size
    n = x.size
    w = np.random.default_rng(seed).standard_normal(m)

    def transpose_times(point: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if jac is not None:
            J = np.asarray(jac(point), dtype=float)
            if J.shape != (m, n):
                raise ValueError(
                    f"jac must return shape ({m}, {n}) (outputs × inputs), got {J.shape}."
                )
            return J.T @ weights
        if vjp is not None:
            return _vector(vjp(point, weights), "vjp")
        return np.array([weights @ _vector(jvp(point, e), "jvp") for e in np.eye(n)])  # type: ignore[misc]

    report = check(
        lambda p: float(w @ _vector(f(p), "f")),
        x,
        grad=lambda p: transpose_times(p, w),
        seed=seed,
        **check_kwargs,
    )
    first = next((d for d in report.diagnoses if d.severity == "fail"), None)
    if (
        report.mismatched.size
        and report.mode != "directional"
        and first is not None
        and first.kind == "localized"
        and m > 1
    ):
        extra = _wrong_entries(f, x, report, jac, vjp, jvp, m)
        report = replace(report, diagnoses=[*report.diagnoses, extra])
    return report


def _analytic_columns(
    x: np.ndarray, cols: np.ndarray, m: int, jac: Any, vjp: Any, jvp: Any
) -> np.ndarray:
    if jac is not None:
        return np.asarray(jac(x.copy()), dtype=float)[:, cols]
    if jvp is not None:
        return np.stack([_vector(jvp(x.copy(), np.eye(x.size)[i]), "jvp") for i in cols], axis=1)
    rows = np.stack([_vector(vjp(x.copy(), e), "vjp") for e in np.eye(m)])
    return rows[:, cols]


def _wrong_entries(
    f: Callable, x: np.ndarray, report: Report, jac: Any, vjp: Any, jvp: Any, m: int
) -> Diagnosis:
    cols = report.mismatched
    analytic = _analytic_columns(x, cols, m, jac, vjp, jvp)
    numeric = np.empty_like(analytic)
    tol = np.empty_like(analytic)
    steps = choose_steps(x, "central", EPS)
    for j, i in enumerate(cols):
        h = steps[i]
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fu, fd = _vector(f(up), "f"), _vector(f(down), "f")
        numeric[:, j] = (fu - fd) / (2 * h)
        # The scalar check's error model, per output: round-off of f over the step, plus rtol.
        roundoff = 2 * EPS * np.maximum(np.abs(fu), np.abs(fd)) / h
        tol[:, j] = report.safety * roundoff + report.rtol * np.maximum(
            np.abs(analytic[:, j]), np.abs(numeric[:, j])
        )
    wrong = np.argwhere(np.abs(analytic - numeric) > tol)
    shown = ", ".join(f"J[{k}, {cols[j]}]" for k, j in wrong[:6]) + (
        f" and {len(wrong) - 6} more" if len(wrong) > 6 else ""
    )
    k, j = wrong[0] if len(wrong) else (0, 0)
    detail = (
        f" (J[{k}, {cols[j]}]: analytic {analytic[k, j]:.6g}, numeric {numeric[k, j]:.6g})"
        if len(wrong)
        else ""
    )
    return Diagnosis(
        "localized",
        f"wrong Jacobian entries: {shown or 'none isolated'}{detail} — output k, input i.",
        indices=cols,
    )


def check_hessian(
    f: Callable[[np.ndarray], Any],
    x: Any,
    *,
    hessp: Callable[[np.ndarray, np.ndarray], Any],
    grad: Callable[[np.ndarray], Any] | None = None,
    **kwargs: Any,
) -> Report:
    """Check Hessian-vector products ``hessp(x, v) = H v`` against differences of the gradient.

    ``f`` returns ``(cost, gradient)`` or the cost with ``grad=`` given; the gradient itself is
    assumed right (check it first with :func:`gradcheck.check`). The Hessian is the Jacobian of
    the gradient and ``hessp`` its forward product, so this is
    ``check_jacobian(gradient, x, jvp=hessp)``.

    Examples
    --------
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> f = lambda x: (0.5 * x @ A @ x, A @ x)
    >>> check_hessian(f, np.array([1.0, -1.0]), hessp=lambda x, v: A @ v).ok
    True
    """
    if grad is None:

        def gradient(p: np.ndarray) -> np.ndarray:
            out = f(p)
            if not isinstance(out, (tuple, list)):
                raise TypeError(
                    "check_hessian needs the gradient: make f return (cost, gradient) or pass grad=."
                )
            return _vector(out[1], "the gradient")
    else:

        def gradient(p: np.ndarray) -> np.ndarray:
            return _vector(grad(p), "grad")

    return check_jacobian(gradient, x, jvp=hessp, **kwargs)
