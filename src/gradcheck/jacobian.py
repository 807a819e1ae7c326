"""Vector-valued functions: Jacobians (``jac``, ``vjp`` or ``jvp``) and Hessian-vector products.

The verdict reduces to the scalar check: for a random output weighting ``w`` the scalar
``w·f(x)`` has gradient ``Jᵀw``, which :func:`gradcheck.check` tests entry by entry. A random
Gaussian ``w`` hides a wrong Jacobian entry only with probability zero. When inputs are found
wrong, the numerical columns ``∂f/∂x_i`` of those inputs (two evaluations each, counted in
``report.evaluations``) are compared with the analytic ones under the same error model to say
which outputs are wrong too: ``J[k, i]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from .adjoint import hessian_consistency, mode_consistency
from .compare import Tolerances
from .differences import SCHEMES, choose_steps, coordinate_points
from .evaluate import Batching, Evaluator
from .layout import Layout, Order, entries
from .pipeline import Extension, Findings, make_settings, run
from .precision import EPS
from .problem import Problem, make_problem
from .report import Diagnosis, Report
from .sparse import check_sparse_jacobian
from .vocabulary import MODES


def _vector(out: Any, name: str, keep: bool = False) -> np.ndarray:
    """What ``name`` returned as a 1-D float array: float64, or (``keep``) in its own float
    dtype, so that a float32 f is judged at float32's noise floor and tolerances."""
    arr = np.asarray(out)
    if arr.dtype.kind == "c" or not (arr.dtype.kind in "fiu" or arr.dtype == object):
        raise TypeError(f"{name} must return a real float array, got dtype {arr.dtype}.")
    if not (keep and arr.dtype.kind == "f"):
        arr = arr.astype(float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must return a 1-D array, got shape {arr.shape}.")
    return arr


class _Weights:
    """The random output weighting ``w``, drawn from ``seed`` when the first output of f (the
    check's first call, at x) shows how many outputs there are: no call of f just to count them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._w: np.ndarray | None = None

    def of(self, m: int) -> np.ndarray:
        """``w`` for an output of ``m`` entries."""
        if self._w is None:
            self._w = np.random.default_rng(self.seed).standard_normal(m)
        w = self._w
        if w.size != m:
            raise ValueError(
                f"f returned {entries(m)} here but {entries(w.size)} at x: the number of "
                "outputs must not depend on the point."
            )
        return w

    @property
    def w(self) -> np.ndarray:
        if self._w is None:  # f is always called at x before anything needs w
            raise RuntimeError("the output weighting is drawn at f's first call")
        return self._w


class _Weighted:
    """``w·f(x)``: the scalar whose gradient is ``Jᵀw`` (a class, so that processes pickle it)."""

    def __init__(self, f: Callable[..., Any], weights: _Weights) -> None:
        self.f, self.weights = f, weights

    def __call__(self, p: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        out = _vector(self.f(p, *args, **kwargs), "f", keep=True)
        value = float(self.weights.of(out.size) @ out.astype(float))
        # In f's own precision: the check reads the precision of f from the cost's dtype.
        return value if out.dtype == np.float64 else out.dtype.type(value)


class _WeightedBatch:
    """``w·f`` for a (k, n) batch of points, from a batched f returning (k, m) outputs. When the
    batched f is :class:`gradcheck.evaluate.Batching` (a vmap), so is this, with ``w·f`` of one
    point (``single``) as its one-point twin."""

    def __init__(
        self, batched: Callable[..., Any], weights: _Weights, single: Callable[..., Any]
    ) -> None:
        self.batched, self.weights = batched, weights
        if isinstance(batched, Batching):  # its batches are tried against one point at a time
            self.serial, self.batch_from = _Weighted(single, weights), batched.batch_from

    def __call__(self, points: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        out = np.asarray(self.batched(np.atleast_2d(points), *args, **kwargs), dtype=float)
        out = out.reshape(out.shape[0], -1)
        return out @ self.weights.of(out.shape[1])


def _sized(v: np.ndarray, size: int, name: str, what: str) -> np.ndarray:
    """``v`` when it has one entry per ``what`` (``size``), else a ValueError naming ``name``."""
    if v.size != size:
        raise ValueError(
            f"{name} must return a vector of {size} entries (one per {what[:-1]}), got "
            f"{v.size} entries."
        )
    return v


class _TransposeTimes:
    """``Jᵀw`` from whichever of ``jac``, ``vjp``, ``jvp`` was given."""

    def __init__(self, form: str, fn: Callable[..., Any], weights: _Weights, n: int) -> None:
        self.form, self.fn, self.weights, self.n = form, fn, weights, n
        self.wrote_cotangent = False

    def __call__(self, p: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        w = self.weights.w
        m, n = w.size, self.n
        if self.form == "jac":
            J = np.asarray(self.fn(p, *args, **kwargs), dtype=float)
            if J.shape != (m, n):
                raise ValueError(
                    f"jac must return shape ({m}, {n}) (outputs × inputs), got {J.shape}."
                )
            return J.T @ w
        if self.form == "vjp":
            # A fresh cotangent per call: a vjp that accumulates into its dout (``dnext_c +=
            # …``) must not change the next call's; that it wrote into it is noted.
            dout = w.copy()
            out = _vector(self.fn(p, dout, *args, **kwargs), "vjp", keep=True)
            if not np.array_equal(dout, w):
                self.wrote_cotangent = True
            return _sized(out, n, "vjp", "inputs")
        return np.array(
            [
                w @ _sized(_vector(self.fn(p, e, *args, **kwargs), "jvp"), m, "jvp", "outputs")
                for e in np.eye(n)
            ]
        )

    def columns(self, p: np.ndarray, cols: np.ndarray, args: tuple, kwargs: Any) -> np.ndarray:
        """The analytic Jacobian's columns ``cols`` (m × len(cols))."""
        m = self.weights.w.size
        if self.form == "jac":
            return np.asarray(self.fn(p.copy(), *args, **kwargs), dtype=float)[:, cols]
        if self.form == "jvp":
            eye = np.eye(p.size)
            return np.stack(
                [_vector(self.fn(p.copy(), eye[i], *args, **kwargs), "jvp") for i in cols], axis=1
            )
        rows = np.stack([_vector(self.fn(p.copy(), e, *args, **kwargs), "vjp") for e in np.eye(m)])
        return rows[:, cols]


def check_jacobian(
    f: Callable[..., Any],
    x: Any,
    *,
    jac: Callable[..., Any] | None = None,
    vjp: Callable[..., Any] | None = None,
    jvp: Callable[..., Any] | None = None,
    args: tuple = (),
    kwargs: Mapping[str, Any] | None = None,
    blocks: Mapping[str, Any] | Layout | None = None,
    order: Order = "C",
    seed: int = 0,
    batched: Callable[..., Any] | None = None,
    sparsity: Any = None,
    **options: Any,
) -> Report:
    """Check the Jacobian of a vector-valued ``f`` given as ``jac``, ``vjp`` or ``jvp`` — or
    two or three of them: they are then also tested against each other without any call of f
    (the adjoint test, :mod:`gradcheck.adjoint`), and the first of jac, vjp, jvp given is
    checked against differences of f.

    Parameters
    ----------
    f : callable
        ``f(x, *args, **kwargs)`` returns a 1-D array of m outputs.
    x : array_like of shape (n,)
    jac : callable, optional
        ``jac(x, *args, **kwargs)`` returns the m × n Jacobian.
    vjp : callable, optional
        ``vjp(x, w, *args, **kwargs)`` returns ``Jᵀw`` (shape (n,)), reverse mode.
    jvp : callable, optional
        ``jvp(x, v, *args, **kwargs)`` returns ``J v`` (shape (m,)), forward mode.
    args, kwargs, blocks, order
        As for :func:`gradcheck.check`.
    seed : int
        Seeds the output weighting and the check.
    batched : callable, optional
        ``batched(X, *args, **kwargs)``: f on a (k, n) batch of points, returning (k, m)
        outputs; the check then evaluates perturbed points in batches (``vectorized``).
    sparsity : array_like of bool or scipy.sparse matrix, optional
        Which J[k, i] may be non-zero. The check then needs about 2 calls per colour of the
        pattern (3 for a tridiagonal J, whatever n) and names entries outside the pattern that
        move f (:mod:`gradcheck.sparse`).
    **options
        Passed to :func:`gradcheck.check` (``method``, ``step``, ``mode``, ``rtol``, …).

    Returns
    -------
    Report
        Of the scalar ``w·f(x)``; when inputs are wrong, a ``localized`` diagnosis names the
        wrong Jacobian entries ``J[k, i]`` (output k, input i). ``evaluations`` counts every call
        of f (not of ``jac``/``vjp``/``jvp``).

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
    given = [(name, v) for name, v in (("jac", jac), ("vjp", vjp), ("jvp", jvp)) if v is not None]
    for name, v in given:
        if not callable(v):
            raise TypeError(
                f"{name} must be a function of x (jac(x) → the m × n Jacobian; vjp(x, w) → wᵀJ; "
                f"jvp(x, v) → J v), got {type(v).__name__}; for a fixed matrix J pass "
                f"{name}=lambda x{', v' if name != 'jac' else ''}: ..."
            )
    if not given:
        raise TypeError("check_jacobian needs at least one of jac=, vjp=, jvp=; got none.")
    if batched is not None and not callable(batched):
        raise TypeError(
            f"batched must be a function of a (k, n) batch of points, got {type(batched).__name__}."
        )
    if sparsity is not None:  # O(colours) calls, the pattern itself checked (gradcheck.sparse)
        if jac is None:
            raise TypeError("sparsity= needs jac= (the Jacobian whose pattern it is).")
        return check_sparse_jacobian(
            f, x, jac, sparsity, args=args, kwargs=kwargs, rtol=options.get("rtol") or 1e-6
        )
    probe = make_problem(f, x, args=args, kwargs=kwargs, blocks=blocks, order=order)
    settings = make_settings(seed=seed, **options)
    consistent, notes = _adjoint(probe, given, seed)
    problem, transpose = weighted(probe, given[0], batched, seed)
    return run(problem, settings, jacobian_extension(f, transpose, notes, consistent))


def _adjoint(
    probe: Problem, given: list[tuple[str, Callable[..., Any]]], seed: int
) -> tuple[list[Diagnosis], tuple[str, ...]]:
    """The adjoint test between the forms given, when there are two or more (no call of f)."""
    if len(given) < 2:
        return [], ()
    forms = dict(given)
    consistent = mode_consistency(
        probe.x,
        jac=forms.get("jac"),
        jvp=forms.get("jvp"),
        vjp=forms.get("vjp"),
        args=probe.args,
        kwargs=probe.kwargs,
        seed=seed,
    )
    said = "agree with each other to round-off" if not consistent else "were compared"
    return consistent, (f"{' and '.join(forms)} {said} (the adjoint test)",)


def jacobian_extension(
    f: Callable[..., Any],
    transpose: _TransposeTimes,
    notes: tuple[str, ...] = (),
    found: list[Diagnosis] | tuple[Diagnosis, ...] = (),
    late_notes: Callable[[Findings], tuple[list[Diagnosis], list[str]]] | None = None,
) -> Extension:
    """What a Jacobian check adds to the scalar check it runs: its notes, diagnoses found
    without f (``found``), the wrong entries J[k, i], and what a caller adds at the end
    (``late_notes``: adapters pass their own, and :func:`run` a ``Ledger`` they share)."""
    explain = partial(_wrong_entries_of_inputs, f, transpose, late_notes, list(found))
    return Extension(notes=tuple(notes), explain=explain)


def weighted(
    probe: Problem,
    form: tuple[str, Callable[..., Any]],
    batched: Callable[..., Any] | None,
    seed: int,
) -> tuple[Problem, _TransposeTimes]:
    """The scalar problem ``w·f`` with gradient ``Jᵀw``, for a random Gaussian ``w``."""
    weights = _Weights(seed)
    transpose = _TransposeTimes(form[0], form[1], weights, probe.n)
    problem = make_problem(
        _Weighted(probe.f, weights)
        if batched is None
        else _WeightedBatch(batched, weights, probe.f),
        probe.x,
        transpose,
        args=probe.args,
        kwargs=probe.kwargs,
        blocks=probe.layout,
        vectorized=batched is not None,
    )
    return problem, transpose


def _wrong_entries_of_inputs(
    f: Callable[..., Any],
    transpose: _TransposeTimes,
    late_notes: Callable[[Findings], tuple[list[Diagnosis], list[str]]] | None,
    consistent: list[Diagnosis],
    found: Findings,
) -> tuple[list[Diagnosis], list[str]]:
    """When inputs were found wrong with no simpler pattern, which outputs: J[k, i] (and what
    the adapter adds at the end, and what the adjoint test found)."""
    diagnoses, notes = late_notes(found) if late_notes is not None else ([], [])
    diagnoses = [*consistent, *diagnoses]
    if transpose.wrote_cotangent:
        diagnoses.append(
            Diagnosis(
                "mutates_input",
                "your vjp modified its cotangent argument (dout): it accumulates into the array "
                "it was given (dnext_c += …). gradcheck hands it a fresh copy on every call, so "
                "its gradient was still judged; code that reuses dout after the call is not "
                "safe: write into a new array instead.",
                severity="warning",
                headline="the vjp modified its dout argument",
            )
        )
    first_fail = next((d for d in found.diagnoses if d.severity == "fail"), None)
    if (
        not found.mismatched.size
        or MODES[found.mode].by_direction
        or first_fail is None
        or first_fail.kind != "localized"
        or transpose.weights.w.size == 1
    ):
        return diagnoses, notes
    return [_wrong_entries(f, found, transpose), *diagnoses], notes


def _wrong_entries(f: Callable[..., Any], found: Findings, transpose: _TransposeTimes) -> Diagnosis:
    problem, x, cols = found.problem, found.problem.x, found.mismatched
    analytic = transpose.columns(x, cols, problem.args, problem.kwargs)
    steps = choose_steps(x, SCHEMES["central"], EPS)[cols]
    ev = Evaluator(f, args=problem.args, kwargs=problem.kwargs, ledger=found.evaluator.ledger)
    up = ev.outputs(coordinate_points(x, cols, steps, str))
    down = ev.outputs(coordinate_points(x, cols, -steps, str))
    fu = np.stack([_vector(o, "f") for o in up], axis=1)
    fd = np.stack([_vector(o, "f") for o in down], axis=1)
    numeric = (fu - fd) / (2 * steps)
    # The scalar check's error model, per output: round-off of f over the step, plus rtol.
    tol = Tolerances(found.tolerances.rtol, 0.0, found.tolerances.safety).allowed(
        noise=2 * EPS * np.maximum(np.abs(fu), np.abs(fd)) / steps,
        analytic=analytic,
        numeric=numeric,
    )
    wrong = np.argwhere(np.abs(analytic - numeric) > tol)
    if _transposed(analytic, numeric, tol, cols, x.size):
        return Diagnosis(
            "transpose",
            f"your {transpose.form} is the transpose of the numerical Jacobian: J[k, i] holds "
            "∂f_i/∂x_k instead of ∂f_k/∂x_i (rows are outputs, columns inputs). Return its "
            "transpose (jac(x).T, or swap the indices where it is built).",
            indices=cols,
            headline=f"your {transpose.form} is transposed",
        )
    shown = ", ".join(f"J[{k}, {cols[j]}]" for k, j in wrong[:6]) + (
        f" and {len(wrong) - 6} more" if len(wrong) > 6 else ""
    )
    detail = ""
    if len(wrong):
        k, j = wrong[0]
        detail = f" (J[{k}, {cols[j]}]: analytic {analytic[k, j]:.6g}, numeric {numeric[k, j]:.6g})"
    return Diagnosis(
        "localized",
        f"wrong Jacobian entries: {shown or 'none isolated'}{detail} — output k, input i.",
        indices=cols,
    )


def _transposed(
    analytic: np.ndarray, numeric: np.ndarray, tol: np.ndarray, cols: np.ndarray, n: int
) -> bool:
    """Whether the analytic Jacobian is the numerical one transposed: square, every input
    column compared, and the columns equal to the numerical rows within tolerance."""
    m = analytic.shape[0]
    if m != n or cols.size != n or not np.array_equal(cols, np.arange(n)) or m < 2:
        return False
    if np.allclose(numeric, numeric.T, rtol=1e-9, atol=0):
        return False  # a symmetric Jacobian: its transpose is itself
    return bool(np.all(np.abs(analytic - numeric.T) <= tol + tol.T))


class _Gradient:
    """The gradient of f, from ``(cost, gradient)`` or from ``grad`` (picklable)."""

    def __init__(self, f: Callable[..., Any], grad: Callable[..., Any] | None) -> None:
        self.f, self.grad = f, grad

    def __call__(self, p: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        if self.grad is not None:
            return _vector(self.grad(p, *args, **kwargs), "grad")
        out = self.f(p, *args, **kwargs)
        if not isinstance(out, (tuple, list)):
            raise TypeError(
                "check_hessian needs the gradient: make f return (cost, gradient) or pass grad=."
            )
        return _vector(out[1], "the gradient")


def check_hessian(
    f: Callable[..., Any],
    x: Any,
    *,
    hessp: Callable[..., Any],
    grad: Callable[..., Any] | None = None,
    **options: Any,
) -> Report:
    """Check Hessian-vector products ``hessp(x, v, *args) = H v`` against differences of the
    gradient.

    ``f`` returns ``(cost, gradient)`` or the cost with ``grad=`` given; the gradient itself is
    assumed right (check it first with :func:`gradcheck.check`). The Hessian is the Jacobian of
    the gradient and ``hessp`` its forward product, so this is
    ``check_jacobian(gradient, x, jvp=hessp)``; ``evaluations`` counts calls of the gradient
    (of f, or of ``grad`` when given). ``**options`` are those of :func:`check_jacobian`.

    Examples
    --------
    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> f = lambda x: (0.5 * x @ A @ x, A @ x)
    >>> check_hessian(f, np.array([1.0, -1.0]), hessp=lambda x, v: A @ v).ok
    True
    """
    if not callable(hessp):
        raise TypeError(f"hessp must be a function hessp(x, v) → H v, got {type(hessp).__name__}.")
    n = int(np.size(x))

    def product(p: np.ndarray, v: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        return _sized(_vector(hessp(p, v, *args, **kwargs), "hessp"), n, "hessp", "inputs")

    point = np.asarray(x, dtype=float).ravel()
    shape = hessian_consistency(
        point,
        product,
        args=tuple(options.get("args", ())),
        kwargs=options.get("kwargs"),
        seed=int(options.get("seed", 0)),
    )
    seed = int(options.pop("seed", 0))
    probe = make_problem(
        _Gradient(f, grad),
        x,
        args=tuple(options.pop("args", ())),
        kwargs=options.pop("kwargs", None),
        blocks=options.pop("blocks", None),
        order=options.pop("order", "C"),
    )
    problem, transpose = weighted(probe, ("jvp", product), None, seed)
    settings = make_settings(seed=seed, **options)
    return run(problem, settings, jacobian_extension(probe.f, transpose, found=shape))
